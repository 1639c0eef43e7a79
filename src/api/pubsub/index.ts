/** @module api/pubsub
 *  The in-process GraphQL pub/sub (graphql-yoga's, which type-graphql subscriptions consume) and its topic names.
 *  Payloads are published as they should be delivered; subscriptions authorize before subscribing. A message may be
 *  published before the row it stands for is committed; it is then held in `pending` until the commit. */
import { createPubSub, type PubSub } from "@graphql-yoga/subscription";
import { PendingMessages } from "./pending-messages.ts";

/** The pub/sub, with the messages published ahead of their commit (`pending`). */
export type ApiPubSub = PubSub<Record<string, [unknown]>> & { readonly pending: PendingMessages };

export function createApiPubSub(): ApiPubSub {
  return Object.assign(createPubSub<Record<string, [unknown]>>(), { pending: new PendingMessages() });
}

export { PendingMessages };

/** Topic names; ids are row uuids (not global ids). */
export const Topics = {
  job: (jobId: string) => `job:${jobId}`,
  generation: (generationId: string) => `generation:${generationId}`,
  evaluation: (evaluationId: string) => `evaluation:${evaluationId}`,
  dimensions: (tenantId: string) => `tenant:${tenantId}:dimensions`,
} as const;
