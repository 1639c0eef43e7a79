/** @module api/resolvers/job
 *  Jobs: `jobs` (connection filtered by kind / status), `cancelJob`, `Job.events`, and the `jobEvents(jobId,
 *  afterSeq)` subscription (stored events first, then live ones; ends after the job's terminal event; `afterSeq`
 *  resumes after the last event a reconnecting client saw). Subscribing to a job
 *  that is not the caller tenant's fails with BAD_USER_INPUT "not found" (same as a missing one). */
import { Arg, Args, Ctx, Field, FieldResolver, Float, ID, Int, Mutation, Query, Resolver, Root, Subscription, ArgsType } from "type-graphql";
import { fromGlobalId, paginate, toGlobalId, InvalidGlobalIdError, type ConnectionResult } from "../../schema/common/index.ts";
import {
  CancelJobInput,
  CancelJobPayload,
  CancelJobSuccess,
  Job,
  JobConnection,
  JobEvent,
  JobsArgs,
} from "../../schema/job/index.ts";
import { requireTenant, type ApiContext } from "../context.ts";
import { BadUserInputError, JobEndedError } from "../errors/index.ts";
import type { TenantDb } from "../db/index.ts";
import { Topics } from "../pubsub/index.ts";
import { readDb, serviceDeps } from "../services/context.ts";
import type { JobEventRow, JobTopicMessage } from "../services/job-events.ts";
import { cancelJob, isTerminal, type JobRow } from "../services/jobs.ts";
import { asPayload } from "../services/payload-errors.ts";
import { replayThenLive } from "../services/streams.ts";
import { inputId } from "./node-ids.ts";
import { tenantScopedNode } from "./node-registry.ts";

export const jobNode = tenantScopedNode("Job", "job");

/**
 * Resolves a subscription argument to the uuid of a row the caller's tenant owns, or throws BAD_USER_INPUT.
 * `find` looks the row up through the tenant-scoped client.
 */
/**
 * How a subscription to one of a job's streams ends: finished once the job is terminal (or gone); a FAILED or
 * CANCELLED job ends the stream with JobEndedError (JOB_FAILED / JOB_CANCELLED) after every stored item.
 */
export function jobStreamEnd(db: TenantDb, jobId: string): { isFinished(): Promise<boolean>; endError(): Promise<Error | null> } {
  const status = async () => await db.job.findFirst({ where: { id: jobId }, select: { status: true, error: true } });
  return {
    async isFinished() {
      const job = await status();
      return job === null || isTerminal(job.status);
    },
    async endError() {
      const job = await status();
      if (job?.status !== "FAILED" && job?.status !== "CANCELLED") return null;
      return new JobEndedError(job.status, toGlobalId("Job", jobId), job.error);
    },
  };
}

/** A subscription's resume argument (`afterSeq`, `afterIndex`) as a replay key: null when absent; a negative or
 *  non-integer value is BAD_USER_INPUT naming the argument. */
export function resumeKey(value: unknown, argument: string): bigint | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < -1) {
    throw new BadUserInputError(`${argument} must be an integer ≥ -1`, { argument });
  }
  return BigInt(value);
}

export async function authorizeSubscription<R>(
  ctx: ApiContext,
  globalId: string,
  typeName: string,
  argument: string,
  find: (uuid: string) => Promise<R | null>,
): Promise<R> {
  requireTenant(ctx);
  let uuid: string;
  try {
    uuid = fromGlobalId(globalId, typeName).uuid;
  } catch (error) {
    if (error instanceof InvalidGlobalIdError) throw new BadUserInputError(error.message, { argument });
    throw error;
  }
  const row = await find(uuid);
  if (row === null) throw new BadUserInputError(`${typeName} ${globalId} was not found`, { argument });
  return row;
}

@ArgsType()
class JobEventsArgs {
  @Field(() => Float, { nullable: true, description: "Only events with seq greater than this." })
  afterSeq?: number | null;
  @Field(() => Int, { nullable: true, description: "At most this many (default 100, max 1000)." })
  first?: number | null;
}

@Resolver(() => JobEvent)
export class JobEventResolver {
  @FieldResolver(() => ID)
  jobId(@Root() row: JobEventRow): string {
    return toGlobalId("Job", row.jobId);
  }

  @FieldResolver(() => Float)
  seq(@Root() row: JobEventRow): number {
    return Number(row.seq);
  }
}

@Resolver(() => Job)
export class JobResolver {
  @FieldResolver(() => ID)
  id(@Root() row: JobRow): string {
    return toGlobalId("Job", row.id);
  }

  @FieldResolver(() => [JobEvent], { description: "Stored events in seq order." })
  async events(@Root() row: JobRow, @Args(() => JobEventsArgs) args: JobEventsArgs, @Ctx() ctx: ApiContext): Promise<JobEventRow[]> {
    const take = Math.min(Math.max(args.first ?? 100, 0), 1000);
    const after = BigInt(Math.max(0, Math.floor(args.afterSeq ?? 0)));
    return (await readDb(ctx).jobEvent.findMany({
      where: { jobId: row.id, seq: { gt: after } },
      orderBy: { seq: "asc" },
      take,
    })) as JobEventRow[];
  }

  @Query(() => JobConnection, { description: "The tenant's jobs, newest first, optionally filtered by kind and status." })
  async jobs(@Args(() => JobsArgs) args: JobsArgs, @Ctx() ctx: ApiContext): Promise<ConnectionResult<JobRow>> {
    const { db } = serviceDeps(ctx);
    const filter = { ...(args.kind ? { kind: args.kind } : {}), ...(args.status ? { status: args.status } : {}) };
    return paginate(args, async (q) => (await db.job.findMany({ where: { AND: [filter, q.where] }, orderBy: q.orderBy, take: q.take })) as JobRow[]);
  }

  @Mutation(() => CancelJobPayload, {
    description: "Cancels a job: QUEUED → CANCELLED at once; RUNNING → cancelRequested (the runner stops it).",
  })
  async cancelJob(@Arg("input", () => CancelJobInput) input: CancelJobInput, @Ctx() ctx: ApiContext): Promise<typeof CancelJobPayload> {
    const deps = serviceDeps(ctx);
    return asPayload<typeof CancelJobPayload>(async () => {
      const job = await cancelJob(deps, inputId(input.jobId, "Job", "input.jobId"));
      return new CancelJobSuccess(job);
    });
  }

  @Subscription(() => JobEvent, {
    description: "A job's events: those already stored, then live ones; completes after the terminal event.",
    subscribe: async ({ args, context }) => {
      const ctx = context as ApiContext;
      const job = await authorizeSubscription(ctx, args.jobId as string, "Job", "jobId", async (uuid) =>
        (await ctx.tenantDb().job.findFirst({ where: { id: uuid } })) as JobRow | null,
      );
      const db = ctx.tenantDb();
      return replayThenLive<JobEventRow, JobTopicMessage>({
        pubSub: ctx.pubSub,
        topic: Topics.job(job.id),
        loadStored: async () => (await db.jobEvent.findMany({ where: { jobId: job.id }, orderBy: { seq: "asc" } })) as JobEventRow[],
        ...jobStreamEnd(db, job.id),
        fromMessage: (message) => (message.kind === "end" ? { kind: "end" } : { kind: "item", item: message.event }),
        keyOf: (event) => event.seq,
        afterKey: resumeKey(args.afterSeq, "afterSeq"),
      });
    },
  })
  jobEvents(
    @Root() event: JobEventRow,
    @Arg("jobId", () => ID) _jobId: string,
    @Arg("afterSeq", () => Float, {
      nullable: true,
      description: "Resume: only events with a greater seq (the last one a reconnecting client saw); default all.",
    })
    _afterSeq?: number | null,
  ): JobEventRow {
    return event;
  }
}
