/** @module schema/evaluation/types
 *  GraphQL surface of Pareto evaluations: the Evaluation node with its points, the startEvaluation input
 *  and payload union. */
import { Field, Float, ID, InputType, Int, ObjectType, createUnionType } from "type-graphql";
import { Connection, JSONScalar, Node, LimitExceeded, NotFoundError, QuotaExceeded, ValidationError } from "../common/index.ts";
import { DatasetSplit } from "../dataset/index.ts";
import { SamplingInput } from "../generation/index.ts";
import { JobStatus } from "../job/index.ts";
import { VocabularyMismatch } from "../model/index.ts";

@ObjectType("ParetoPoint", { description: "Mean evaluator reward per dimension at one α of the grid." })
export class ParetoPoint {
  @Field(() => ID, { description: "Global id of the Evaluation." })
  evaluationId!: string;
  @Field(() => Int)
  index!: number;
  @Field(() => [Float])
  alpha!: number[];
  @Field(() => [Float])
  rewards!: number[];
  @Field(() => Boolean, { description: "On the Pareto front (set when the evaluation completes)." })
  onFront!: boolean;
  @Field(() => Date)
  createdAt!: Date;
}

@ObjectType("Evaluation", { implements: Node })
export class Evaluation extends Node {
  @Field(() => ID)
  jobId!: string;
  @Field(() => ID)
  adapterId!: string;
  @Field(() => Float)
  gridStep!: number;
  @Field(() => DatasetSplit)
  split!: DatasetSplit;
  @Field(() => Int)
  promptCount!: number;
  @Field(() => [ID], { description: "Global ids of the EVALUATOR models, in α order." })
  evaluatorIds!: string[];
  @Field(() => [Float], { description: "Hypervolume reference point (stored with the result)." })
  referencePoint!: number[];
  @Field(() => Float, { nullable: true })
  hypervolume!: number | null;
  @Field(() => Float, { nullable: true })
  mip!: number | null;
  @Field(() => JSONScalar, { nullable: true })
  report!: unknown;
  @Field(() => JobStatus)
  status!: JobStatus;
  @Field(() => Date)
  createdAt!: Date;
}

export const EvaluationConnection = Connection(Evaluation, "Evaluation");

@InputType("StartEvaluationInput")
export class StartEvaluationInput {
  @Field(() => ID)
  adapterId!: string;
  @Field(() => ID, { description: "The BASE model steered during the sweep." })
  baseModelId!: string;
  @Field(() => ID, { description: "Dataset whose prompts are used." })
  datasetId!: string;
  @Field(() => DatasetSplit, { defaultValue: DatasetSplit.TEST })
  split!: DatasetSplit;
  @Field(() => Int, { defaultValue: 100 })
  promptCount!: number;
  @Field(() => Float, { defaultValue: 0.1, description: "Simplex grid step; 1/gridStep must be an integer." })
  gridStep!: number;
  @Field(() => [ID], { description: "One EVALUATOR model per adapter dimension, in α order." })
  evaluatorIds!: string[];
  @Field(() => [Float], { nullable: true, description: "Hypervolume reference point; default: derived from the data." })
  referencePoint?: number[] | null;
  @Field(() => Float, { defaultValue: 1 })
  beta!: number;
  @Field(() => SamplingInput, { nullable: true })
  sampling?: SamplingInput | null;
  @Field(() => Int, { defaultValue: 128 })
  maxTokens!: number;
  @Field(() => Int, {
    nullable: true,
    description: "Prompts longer than this many tokens keep their last maxPromptTokens; default: the base model's context length minus maxTokens.",
  })
  maxPromptTokens?: number | null;
}

@ObjectType("StartEvaluationSuccess")
export class StartEvaluationSuccess {
  @Field(() => Evaluation)
  evaluation!: Evaluation;
  constructor(evaluation?: Evaluation) {
    if (evaluation) this.evaluation = evaluation;
  }
}

export const StartEvaluationPayload = createUnionType({
  name: "StartEvaluationPayload",
  types: () => [StartEvaluationSuccess, ValidationError, NotFoundError, QuotaExceeded, VocabularyMismatch, LimitExceeded] as const,
});
