/** @module api/pubsub
 *  The in-process GraphQL pub/sub (graphql-yoga's, which type-graphql subscriptions consume) and its topic names.
 *  Payloads are published as they should be delivered; subscriptions authorize before subscribing. */
import { createPubSub, type PubSub } from "@graphql-yoga/subscription";

export type ApiPubSub = PubSub<Record<string, [unknown]>>;

export function createApiPubSub(): ApiPubSub {
  return createPubSub<Record<string, [unknown]>>();
}

/** Topic names; ids are row uuids (not global ids). */
export const Topics = {
  job: (jobId: string) => `job:${jobId}`,
  generation: (generationId: string) => `generation:${generationId}`,
  evaluation: (evaluationId: string) => `evaluation:${evaluationId}`,
  dimensions: (tenantId: string) => `tenant:${tenantId}:dimensions`,
} as const;
