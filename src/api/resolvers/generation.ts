/** @module api/resolvers/generation
 *  Guided generation: `generations` (connection), `generate` (one output per α; several α per request) and the
 *  `generationTokens(generationId)` subscription (stored tokens first, then live; ends with the job). */
import { Arg, Args, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root, Subscription } from "type-graphql";
import { ConnectionArgs, paginate, toGlobalId, type ConnectionResult } from "../../schema/common/index.ts";
import {
  GenerateInput,
  GeneratePayload,
  GenerateSuccess,
  Generation,
  GenerationConnection,
  GenerationOutput,
  GenerationToken,
  Sampling,
} from "../../schema/generation/index.ts";
import { Job } from "../../schema/job/index.ts";
import type { ApiContext } from "../context.ts";
import { Topics } from "../pubsub/index.ts";
import { readDb, serviceDeps } from "../services/context.ts";
import { generate, type GenerationRow } from "../services/generations.ts";
import type { GenerationTokenMessage, GenerationTopicMessage } from "../services/job-events.ts";
import type { JobRow } from "../services/jobs.ts";
import { asPayload } from "../services/payload-errors.ts";
import { replayThenLive } from "../services/streams.ts";
import { inputId } from "./node-ids.ts";
import { authorizeSubscription, jobStreamEnd } from "./job.ts";
import { tenantScopedNode } from "./node-registry.ts";
import { storedJson } from "../db/index.ts";

export const generationNode = tenantScopedNode("Generation", "generation");

@Resolver(() => GenerationToken)
export class GenerationTokenResolver {
  @FieldResolver(() => ID)
  generationId(@Root() token: GenerationTokenMessage): string {
    return toGlobalId("Generation", token.generationId);
  }
}

@Resolver(() => Generation)
export class GenerationResolver {
  @FieldResolver(() => ID)
  id(@Root() row: GenerationRow): string {
    return toGlobalId("Generation", row.id);
  }

  @FieldResolver(() => ID)
  jobId(@Root() row: GenerationRow): string {
    return toGlobalId("Job", row.jobId);
  }

  @FieldResolver(() => ID)
  baseModelId(@Root() row: GenerationRow): string {
    return toGlobalId("Model", row.baseModelId);
  }

  @FieldResolver(() => ID, { nullable: true })
  adapterId(@Root() row: GenerationRow): string | null {
    return row.adapterId ? toGlobalId("Adapter", row.adapterId) : null;
  }

  @FieldResolver(() => Sampling)
  sampling(@Root() row: GenerationRow): Sampling {
    return storedJson<Sampling>(row.sampling);
  }

  @FieldResolver(() => [GenerationOutput], { nullable: true })
  outputs(@Root() row: GenerationRow): GenerationOutput[] | null {
    return (row.outputs as GenerationOutput[] | null) ?? null;
  }

  @FieldResolver(() => Job, { nullable: true })
  async job(@Root() row: GenerationRow, @Ctx() ctx: ApiContext): Promise<JobRow | null> {
    return (await readDb(ctx).job.findFirst({ where: { id: row.jobId } })) as JobRow | null;
  }

  @Query(() => GenerationConnection, { description: "The tenant's generations, newest first." })
  async generations(@Args(() => ConnectionArgs) args: ConnectionArgs, @Ctx() ctx: ApiContext): Promise<ConnectionResult<GenerationRow>> {
    const { db } = serviceDeps(ctx);
    return paginate(args, async (q) => (await db.generation.findMany({ where: q.where, orderBy: q.orderBy, take: q.take })) as GenerationRow[]);
  }

  @Mutation(() => GeneratePayload, {
    description: "Queues guided generation: one output per preference vector α (each on the simplex of the adapter's dimensions).",
  })
  async generate(@Arg("input", () => GenerateInput) input: GenerateInput, @Ctx() ctx: ApiContext): Promise<typeof GeneratePayload> {
    const deps = serviceDeps(ctx);
    return asPayload<typeof GeneratePayload>(async () => {
      const { generation } = await generate(deps, {
        baseModelId: inputId(input.baseModelId, "Model", "input.baseModelId"),
        adapterId: input.adapterId ? inputId(input.adapterId, "Adapter", "input.adapterId") : null,
        prompt: input.prompt,
        alphas: input.alphas,
        beta: input.beta,
        sampling: input.sampling ?? null,
        maxTokens: input.maxTokens,
      });
      return new GenerateSuccess(generation as unknown as Generation);
    });
  }

  @Subscription(() => GenerationToken, {
    description: "Tokens of a generation as they are produced (stored ones first); completes when the job ends.",
    subscribe: async ({ args, context }) => {
      const ctx = context as ApiContext;
      const db = ctx.tenantDb();
      const generation = await authorizeSubscription(ctx, args.generationId as string, "Generation", "generationId", async (uuid) =>
        (await db.generation.findFirst({ where: { id: uuid } })) as GenerationRow | null,
      );
      return replayThenLive<GenerationTokenMessage, GenerationTopicMessage>({
        pubSub: ctx.pubSub,
        topic: Topics.generation(generation.id),
        loadStored: async () => {
          const events = await db.jobEvent.findMany({ where: { jobId: generation.jobId, type: "token" }, orderBy: { seq: "asc" } });
          return events.map((e) => {
            const p = e.payload as { outputIndex: number; position: number; tokenId: number; text: string };
            return { generationId: generation.id, seq: e.seq, outputIndex: p.outputIndex, position: p.position, tokenId: p.tokenId, text: p.text };
          });
        },
        ...jobStreamEnd(db, generation.jobId),
        fromMessage: (message) => (message.kind === "end" ? { kind: "end" } : { kind: "item", item: message.token }),
        keyOf: (token) => token.seq,
      });
    },
  })
  generationTokens(@Root() token: GenerationTokenMessage, @Arg("generationId", () => ID) _generationId: string): GenerationTokenMessage {
    return token;
  }
}
