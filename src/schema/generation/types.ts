/** @module schema/generation/types
 *  GraphQL surface of guided generation: several α in one request (one output each), sampling options,
 *  the streamed tokens and the generate payload union. */
import { Field, Float, ID, InputType, Int, ObjectType, createUnionType } from "type-graphql";
import { Connection, InvalidPreferenceVector, LimitExceeded, Node, NotFoundError, QuotaExceeded, ValidationError } from "../common/index.ts";
import { JobStatus } from "../job/index.ts";
import { VocabularyMismatch } from "../model/index.ts";

@ObjectType("Sampling")
export class Sampling {
  @Field(() => Float, { description: "0 = greedy." })
  temperature!: number;
  @Field(() => Int, { description: "0 = no top-k cut." })
  topK!: number;
  @Field(() => Float, { description: "1 = no nucleus cut." })
  topP!: number;
  @Field(() => Int, { nullable: true })
  seed!: number | null;
  @Field(() => [String])
  stop!: string[];
}

@InputType("SamplingInput")
export class SamplingInput {
  @Field(() => Float, { defaultValue: 0, description: "0 = greedy (PARM's setting)." })
  temperature!: number;
  @Field(() => Int, { defaultValue: 0 })
  topK!: number;
  @Field(() => Float, { defaultValue: 1 })
  topP!: number;
  @Field(() => Int, { nullable: true })
  seed?: number | null;
  @Field(() => [String], { defaultValue: [] })
  stop!: string[];
}

@ObjectType("GenerationOutput", { description: "The text generated for one α." })
export class GenerationOutput {
  @Field(() => [Float])
  alpha!: number[];
  @Field(() => String)
  text!: string;
  @Field(() => Int)
  tokenCount!: number;
  @Field(() => String, { description: "stop | length" })
  finishReason!: string;
}

@ObjectType("Generation", { implements: Node })
export class Generation extends Node {
  @Field(() => ID, { description: "Global id of the GENERATE Job." })
  jobId!: string;
  @Field(() => ID)
  baseModelId!: string;
  @Field(() => ID, { nullable: true })
  adapterId!: string | null;
  @Field(() => String)
  prompt!: string;
  @Field(() => [[Float]], { description: "The preference vectors, one output each, in request order." })
  alphas!: number[][];
  @Field(() => Float)
  beta!: number;
  @Field(() => Sampling)
  sampling!: Sampling;
  @Field(() => Int)
  maxTokens!: number;
  @Field(() => [GenerationOutput], { nullable: true, description: "Set when the job completes." })
  outputs!: GenerationOutput[] | null;
  @Field(() => JobStatus)
  status!: JobStatus;
  @Field(() => Date)
  createdAt!: Date;
}

export const GenerationConnection = Connection(Generation, "Generation");

@ObjectType("GenerationToken", { description: "One streamed token of output `outputIndex` (the index of its α)." })
export class GenerationToken {
  @Field(() => ID)
  generationId!: string;
  @Field(() => Int)
  outputIndex!: number;
  @Field(() => Int)
  position!: number;
  @Field(() => Int)
  tokenId!: number;
  @Field(() => String)
  text!: string;
}

@InputType("GenerateInput")
export class GenerateInput {
  @Field(() => ID, { description: "The BASE model to steer." })
  baseModelId!: string;
  @Field(() => ID, { nullable: true, description: "The ARM adapter; omitted = plain base-model decoding (then alphas must be [[]])." })
  adapterId?: string | null;
  @Field(() => String)
  prompt!: string;
  @Field(() => [[Float]], {
    description: "One or more preference vectors; each has one entry per adapter dimension, finite, ≥ 0, summing to 1 (±1e-6).",
  })
  alphas!: number[][];
  @Field(() => Float, { defaultValue: 1, description: "Guidance: log p = log_softmax(base) + (1/β)·log_softmax(ARM(α))." })
  beta!: number;
  @Field(() => SamplingInput, { nullable: true })
  sampling?: SamplingInput | null;
  @Field(() => Int, { defaultValue: 128 })
  maxTokens!: number;
}

@ObjectType("GenerateSuccess")
export class GenerateSuccess {
  @Field(() => Generation)
  generation!: Generation;
  constructor(generation?: Generation) {
    if (generation) this.generation = generation;
  }
}

export const GeneratePayload = createUnionType({
  name: "GeneratePayload",
  types: () =>
    [GenerateSuccess, InvalidPreferenceVector, ValidationError, NotFoundError, QuotaExceeded, VocabularyMismatch, LimitExceeded] as const,
});
