/** @module schema/job/types — GraphQL surface of jobs: the Job node, its events, filters and cancelJob. */
import { ArgsType, Field, Float, ID, InputType, Int, ObjectType, createUnionType, registerEnumType } from "type-graphql";
import { Connection, ConnectionArgs, ErrorInterface, JSONScalar, Node, NotFoundError, ValidationError } from "../common/index.ts";

export const JobKind = { TRAIN: "TRAIN", TRAIN_EVALUATOR: "TRAIN_EVALUATOR", GENERATE: "GENERATE", EVALUATE: "EVALUATE" } as const;
export type JobKind = (typeof JobKind)[keyof typeof JobKind];
registerEnumType(JobKind, { name: "JobKind" });

export const JobStatus = { QUEUED: "QUEUED", RUNNING: "RUNNING", SUCCEEDED: "SUCCEEDED", FAILED: "FAILED", CANCELLED: "CANCELLED" } as const;
export type JobStatus = (typeof JobStatus)[keyof typeof JobStatus];
registerEnumType(JobStatus, {
  name: "JobStatus",
  description: "QUEUED → RUNNING → SUCCEEDED | FAILED; CANCELLED from QUEUED or RUNNING.",
});

@ObjectType("JobEvent", { description: "One event a runner emitted for a job, in stream order (`seq`)." })
export class JobEvent {
  @Field(() => ID, { description: "Global id of the Job." })
  jobId!: string;
  @Field(() => Float, { description: "Sequence number on the events stream; strictly increasing per job." })
  seq!: number;
  @Field(() => String, { description: "started | progress | token | point | artifact | completed | failed" })
  type!: string;
  @Field(() => JSONScalar, { description: "The event as the runner sent it (see contracts/events)." })
  payload!: unknown;
  @Field(() => Date)
  createdAt!: Date;
}

@ObjectType("Job", { implements: Node })
export class Job extends Node {
  @Field(() => JobKind)
  kind!: JobKind;
  @Field(() => JobStatus)
  status!: JobStatus;
  @Field(() => JSONScalar, { description: "The payload published to the runners." })
  payload!: unknown;
  @Field(() => Float, { description: "0–100." })
  progress!: number;
  @Field(() => JSONScalar, { nullable: true, description: "The last progress event (step, loss per objective …)." })
  progressDetail!: unknown;
  @Field(() => Int)
  attempts!: number;
  @Field(() => String, { nullable: true })
  error!: string | null;
  @Field(() => Boolean)
  cancelRequested!: boolean;
  @Field(() => Date)
  createdAt!: Date;
  @Field(() => Date, { nullable: true })
  startedAt!: Date | null;
  @Field(() => Date, { nullable: true })
  finishedAt!: Date | null;
  @Field(() => Date)
  updatedAt!: Date;
}

export const JobConnection = Connection(Job, "Job");

@ArgsType()
export class JobsArgs extends ConnectionArgs {
  @Field(() => JobKind, { nullable: true })
  kind?: JobKind | null;
  @Field(() => JobStatus, { nullable: true })
  status?: JobStatus | null;
}

@ObjectType("JobNotCancellable", { implements: ErrorInterface, description: "The job already finished." })
export class JobNotCancellable extends ErrorInterface {
  @Field(() => ID)
  jobId!: string;
  @Field(() => JobStatus)
  status!: JobStatus;
  constructor(init?: { message: string; jobId: string; status: JobStatus }) {
    super();
    if (init) Object.assign(this, init);
  }
}

@InputType("CancelJobInput")
export class CancelJobInput {
  @Field(() => ID)
  jobId!: string;
}

@ObjectType("CancelJobSuccess", {
  description: "A QUEUED job is CANCELLED at once; a RUNNING job gets cancelRequested and its runner stops it.",
})
export class CancelJobSuccess {
  @Field(() => Job)
  job!: Job;
  constructor(job?: Job) {
    if (job) this.job = job;
  }
}

export const CancelJobPayload = createUnionType({
  name: "CancelJobPayload",
  types: () => [CancelJobSuccess, JobNotCancellable, NotFoundError, ValidationError] as const,
});
