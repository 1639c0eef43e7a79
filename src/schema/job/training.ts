/** @module schema/job/training — startTraining (PARM / GenARM ARMs) and trainEvaluator inputs and payloads. */
import { Field, Float, ID, InputType, Int, ObjectType, createUnionType, registerEnumType } from "type-graphql";
import { LimitExceeded, NotFoundError, QuotaExceeded, ValidationError } from "../common/index.ts";
import { AdapterMethod } from "../adapter/index.ts";
import { DatasetSplit } from "../dataset/index.ts";
import { Job } from "./types.ts";
import { TRAINING_RECIPES, type AlphaCadence as ContractAlphaCadence, type PairTruncation as ContractPairTruncation } from "../../contracts/index.ts";

/** The recipe values both methods share default the input's fields (contracts/training-recipe.ts). */
const PARM = TRAINING_RECIPES.PARM;

export const AlphaCadence = { STEP: "STEP", MICRO_BATCH: "MICRO_BATCH" } as const satisfies Record<ContractAlphaCadence, ContractAlphaCadence>;
export type AlphaCadence = (typeof AlphaCadence)[keyof typeof AlphaCadence];
registerEnumType(AlphaCadence, {
  name: "AlphaCadence",
  description: "How often PARM training draws a preference vector α ~ Dirichlet(p).",
  valuesConfig: {
    STEP: { description: "Once per optimizer step: every micro-batch of a gradient-accumulation window shares it (the reference)." },
    MICRO_BATCH: { description: "Once per micro-batch." },
  },
});

export const PairTruncation = { TRL: "TRL", PREFIX_SHARED: "PREFIX_SHARED" } as const satisfies Record<ContractPairTruncation, ContractPairTruncation>;
export type PairTruncation = (typeof PairTruncation)[keyof typeof PairTruncation];
registerEnumType(PairTruncation, {
  name: "PairTruncation",
  description: "How a preference pair is tokenized and cut to maxLength (docs/engine.md, pair tokenization and truncation).",
  valuesConfig: {
    TRL: {
      description:
        "TRL 0.9.6 DPOTrainer's tokenize_row, as the reference trains: each response keeps its own prompt/response boundary; the prompt keeps its last maxPromptLength tokens (BOS may go), responses are cut to maxLength - maxPromptLength.",
    },
    PREFIX_SHARED: {
      description: "One prompt shared by both responses; BOS kept when the prompt is cut; responses cut to maxLength minus the prompt's length.",
    },
  },
});

@InputType("TrainingDimensionInput", { description: "One objective of the ARM and the dataset that labels it." })
export class TrainingDimensionInput {
  @Field(() => ID)
  dimensionId!: string;
  @Field(() => ID, { description: "A READY dataset whose label map includes this dimension." })
  datasetId!: string;
  @Field(() => Float, { nullable: true, description: "β_r of this objective's ARM loss; default: the dimension's betaR." })
  betaR?: number | null;
}

@InputType("StartTrainingInput")
export class StartTrainingInput {
  @Field(() => String, { description: "Name of the adapter the job will produce." })
  adapterName!: string;
  @Field(() => AdapterMethod)
  method!: AdapterMethod;
  @Field(() => ID, { description: "The ARM backbone (a BASE or ARM_BASE Model)." })
  baseModelId!: string;
  @Field(() => [TrainingDimensionInput], { description: "The objectives in α order; each dimension once." })
  dimensions!: TrainingDimensionInput[];
  @Field(() => Int, { nullable: true, description: "Rank r1 of the shared block W1 (GenARM: the LoRA rank); default: the method's reference value (PARM 4, GENARM 8)." })
  r1?: number | null;
  @Field(() => Int, { nullable: true, description: "Rank r2 of the preference-aware blocks W2_i (not used by GenARM); default: the method's reference value (PARM 4)." })
  r2?: number | null;
  @Field(() => Float, { nullable: true, description: "lora_alpha; scaling s = loraAlpha / r2 (GenARM: loraAlpha / r1); default: the method's reference value (PARM 8, GENARM 16, a scale of 2 for both)." })
  loraAlpha?: number | null;
  @Field(() => Float, { nullable: true, description: "Adapter-input dropout while training (PEFT lora_dropout), 0 ≤ p < 1; default: the method's reference value (0.05)." })
  loraDropout?: number | null;
  @Field(() => [String], { defaultValue: ["q_proj", "k_proj", "v_proj"] })
  targets!: string[];
  @Field(() => Float, { defaultValue: PARM.lr })
  learningRate!: number;
  @Field(() => Int, { nullable: true, description: "Passes over the training pairs; default: the method's reference value (PARM 2, GENARM 1)." })
  epochs?: number | null;
  @Field(() => Int, { defaultValue: PARM.batchSize, description: "Pairs per micro-batch." })
  batchSize!: number;
  @Field(() => Int, { defaultValue: PARM.gradAccum, description: "Micro-batches per optimizer step (the reference: 4 × 8 = 32 pairs per step)." })
  gradAccum!: number;
  @Field(() => Int, { defaultValue: PARM.warmupSteps })
  warmupSteps!: number;
  @Field(() => Float, { defaultValue: PARM.weightDecay })
  weightDecay!: number;
  @Field(() => Float, { defaultValue: PARM.dirichletP, description: "Dirichlet concentration p for sampling α." })
  dirichletP!: number;
  @Field(() => AlphaCadence, { nullable: true, description: "When PARM draws α; default: the reference's, once per optimizer step." })
  alphaPer?: AlphaCadence | null;
  @Field(() => PairTruncation, { nullable: true, description: "Pair tokenization and truncation rule; default: TRL's, as the reference." })
  truncation?: PairTruncation | null;
  @Field(() => Int, { defaultValue: 0 })
  seed!: number;
  @Field(() => Int, { nullable: true, description: "Tokens kept of each prompt; default: min(512, maxLength / 2)." })
  maxPromptLength?: number | null;
  @Field(() => Int, { nullable: true, description: "Tokens of prompt + response; default: min(1024, the base model's context length). Must fit the context." })
  maxLength?: number | null;
  @Field(() => Int, { defaultValue: 0, description: "Checkpoint every N optimizer steps (0 = only at the end)." })
  checkpointEvery!: number;
  @Field(() => Int, { nullable: true, description: "Use at most this many TRAIN pairs per dataset (the first in snapshot order); default: all." })
  maxPairs?: number | null;
  @Field(() => Int, { nullable: true, description: "Stop after this many optimizer updates in all (the learning-rate schedule spans them); default: epochs decide." })
  maxSteps?: number | null;
}

@ObjectType("StartTrainingSuccess")
export class StartTrainingSuccess {
  @Field(() => Job)
  job!: Job;
  constructor(job?: Job) {
    if (job) this.job = job;
  }
}

export const StartTrainingPayload = createUnionType({
  name: "StartTrainingPayload",
  types: () => [StartTrainingSuccess, ValidationError, NotFoundError, QuotaExceeded, LimitExceeded] as const,
});

export const EvaluatorPooling = { LAST: "LAST", MEAN: "MEAN" } as const;
export type EvaluatorPooling = (typeof EvaluatorPooling)[keyof typeof EvaluatorPooling];
registerEnumType(EvaluatorPooling, {
  name: "EvaluatorPooling",
  description: "Where an evaluator's score head reads the backbone. Recorded in the evaluator file; scoring uses the same.",
  valuesConfig: {
    LAST: { description: "The hidden state of the last token (the classic reward-model head)." },
    MEAN: { description: "The mean hidden state over the response tokens: a length-controlled reward, better on small backbones." },
  },
});

@InputType("TrainEvaluatorInput")
export class TrainEvaluatorInput {
  @Field(() => String, { description: "Name of the EVALUATOR Model the job will produce." })
  evaluatorName!: string;
  @Field(() => ID)
  dimensionId!: string;
  @Field(() => ID, { description: "The backbone of the reward model." })
  baseModelId!: string;
  @Field(() => ID, { description: "A READY dataset with a label mapped to the dimension." })
  datasetId!: string;
  @Field(() => Float, { defaultValue: 1e-4 })
  learningRate!: number;
  @Field(() => Int, { defaultValue: 1 })
  epochs!: number;
  @Field(() => Int, { defaultValue: 4 })
  batchSize!: number;
  @Field(() => Int, { defaultValue: 0 })
  seed!: number;
  @Field(() => Int, { nullable: true, description: "Tokens of prompt + response; default: min(1024, the base model's context length). Must fit the context." })
  maxLength?: number | null;
  @Field(() => EvaluatorPooling, { defaultValue: EvaluatorPooling.LAST })
  pooling!: EvaluatorPooling;
  @Field(() => DatasetSplit, {
    defaultValue: DatasetSplit.VALIDATION,
    description: "The split whose records train the evaluator. Keep it disjoint from the ARM's training split (TRAIN).",
  })
  trainSplit!: DatasetSplit;
  @Field(() => DatasetSplit, { defaultValue: DatasetSplit.TEST, description: "The split held out for the evaluator's accuracy; must differ from trainSplit." })
  heldOutSplit!: DatasetSplit;
}

@ObjectType("TrainEvaluatorSuccess")
export class TrainEvaluatorSuccess {
  @Field(() => Job)
  job!: Job;
  constructor(job?: Job) {
    if (job) this.job = job;
  }
}

export const TrainEvaluatorPayload = createUnionType({
  name: "TrainEvaluatorPayload",
  types: () => [TrainEvaluatorSuccess, ValidationError, NotFoundError, QuotaExceeded, LimitExceeded] as const,
});
