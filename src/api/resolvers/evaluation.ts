/** @module api/resolvers/evaluation
 *  Pareto evaluations: `evaluations` (connection), `Evaluation.points`, `startEvaluation`, and the
 *  `evaluationPoints(evaluationId, afterIndex)` subscription (stored points first, then live; ends with the job;
 *  `afterIndex` resumes after the last point a reconnecting client saw). */
import { Arg, Args, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root, Subscription } from "type-graphql";
import { ConnectionArgs, paginate, toGlobalId, type ConnectionResult } from "../../schema/common/index.ts";
import {
  Evaluation,
  EvaluationConnection,
  ParetoPoint,
  StartEvaluationInput,
  StartEvaluationPayload,
  StartEvaluationSuccess,
} from "../../schema/evaluation/index.ts";
import { Job } from "../../schema/job/index.ts";
import type { ApiContext } from "../context.ts";
import { Topics } from "../pubsub/index.ts";
import { readDb, serviceDeps } from "../services/context.ts";
import { startEvaluation, type EvaluationRow } from "../services/generations.ts";
import type { EvaluationTopicMessage, ParetoPointRow } from "../services/job-events.ts";
import type { JobRow } from "../services/jobs.ts";
import { asPayload } from "../services/payload-errors.ts";
import { replayThenLive } from "../services/streams.ts";
import { inputId } from "./node-ids.ts";
import { authorizeSubscription, jobStreamEnd, resumeKey } from "./job.ts";
import { tenantScopedNode } from "./node-registry.ts";

export const evaluationNode = tenantScopedNode("Evaluation", "evaluation");

@Resolver(() => ParetoPoint)
export class ParetoPointResolver {
  @FieldResolver(() => ID)
  evaluationId(@Root() row: ParetoPointRow): string {
    return toGlobalId("Evaluation", row.evaluationId);
  }
}

@Resolver(() => Evaluation)
export class EvaluationResolver {
  @FieldResolver(() => ID)
  id(@Root() row: EvaluationRow): string {
    return toGlobalId("Evaluation", row.id);
  }

  @FieldResolver(() => ID)
  jobId(@Root() row: EvaluationRow): string {
    return toGlobalId("Job", row.jobId);
  }

  @FieldResolver(() => ID)
  adapterId(@Root() row: EvaluationRow): string {
    return toGlobalId("Adapter", row.adapterId);
  }

  @FieldResolver(() => [ID])
  evaluatorIds(@Root() row: EvaluationRow): string[] {
    return row.evaluatorIds.map((id) => toGlobalId("Model", id));
  }

  @FieldResolver(() => [ParetoPoint], { description: "Points evaluated so far, by grid index." })
  async points(@Root() row: EvaluationRow, @Ctx() ctx: ApiContext): Promise<ParetoPointRow[]> {
    return (await readDb(ctx).paretoPoint.findMany({ where: { evaluationId: row.id }, orderBy: { index: "asc" } })) as ParetoPointRow[];
  }

  @FieldResolver(() => Job, { nullable: true })
  async job(@Root() row: EvaluationRow, @Ctx() ctx: ApiContext): Promise<JobRow | null> {
    return (await readDb(ctx).job.findFirst({ where: { id: row.jobId } })) as JobRow | null;
  }

  @Query(() => EvaluationConnection, { description: "The tenant's evaluations, newest first." })
  async evaluations(@Args(() => ConnectionArgs) args: ConnectionArgs, @Ctx() ctx: ApiContext): Promise<ConnectionResult<EvaluationRow>> {
    const { db } = serviceDeps(ctx);
    return paginate(args, async (q) => (await db.evaluation.findMany({ where: q.where, orderBy: q.orderBy, take: q.take })) as EvaluationRow[]);
  }

  @Mutation(() => StartEvaluationPayload, {
    description: "Queues a Pareto sweep: a simplex grid of α, prompts from a dataset split, one evaluator per dimension.",
  })
  async startEvaluation(
    @Arg("input", () => StartEvaluationInput) input: StartEvaluationInput,
    @Ctx() ctx: ApiContext,
  ): Promise<typeof StartEvaluationPayload> {
    const deps = serviceDeps(ctx);
    return asPayload<typeof StartEvaluationPayload>(async () => {
      const { evaluation } = await startEvaluation(deps, {
        ...input,
        adapterId: inputId(input.adapterId, "Adapter", "input.adapterId"),
        baseModelId: inputId(input.baseModelId, "Model", "input.baseModelId"),
        datasetId: inputId(input.datasetId, "Dataset", "input.datasetId"),
        evaluatorIds: input.evaluatorIds.map((id, i) => inputId(id, "Model", `input.evaluatorIds[${i}]`)),
        referencePoint: input.referencePoint ?? null,
        sampling: input.sampling ?? null,
      });
      return new StartEvaluationSuccess(evaluation);
    });
  }

  @Subscription(() => ParetoPoint, {
    description: "Points of an evaluation as they are computed (stored ones first); completes when the job ends.",
    subscribe: async ({ args, context }) => {
      const ctx = context as ApiContext;
      const db = ctx.tenantDb();
      const evaluation = await authorizeSubscription(ctx, args.evaluationId as string, "Evaluation", "evaluationId", async (uuid) =>
        (await db.evaluation.findFirst({ where: { id: uuid } })) as EvaluationRow | null,
      );
      return replayThenLive<ParetoPointRow, EvaluationTopicMessage>({
        pubSub: ctx.pubSub,
        topic: Topics.evaluation(evaluation.id),
        loadStored: async () =>
          (await db.paretoPoint.findMany({ where: { evaluationId: evaluation.id }, orderBy: { index: "asc" } })) as ParetoPointRow[],
        ...jobStreamEnd(db, evaluation.jobId),
        fromMessage: (message) => (message.kind === "end" ? { kind: "end" } : { kind: "item", item: message.point }),
        keyOf: (point) => point.index,
        afterKey: resumeKey(args.afterIndex, "afterIndex"),
      });
    },
  })
  evaluationPoints(
    @Root() point: ParetoPointRow,
    @Arg("evaluationId", () => ID) _evaluationId: string,
    @Arg("afterIndex", () => Int, {
      nullable: true,
      description: "Resume: only points with a greater grid index (the last one a reconnecting client saw); default all.",
    })
    _afterIndex?: number | null,
  ): ParetoPointRow {
    return point;
  }
}
