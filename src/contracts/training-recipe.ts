/**
 * @module contracts/training-recipe — the defaults of ARM training, one set per method, taken from the methods'
 * reference training scripts (docs/engine.md "Training defaults" names the source of each). The GraphQL training
 * input, the train job payload, `parm train` / `parm dump` and the engine's `trainArm` options all default to
 * these values. Plain data importing nothing, so the engine (which imports nothing else of the platform) reads it
 * too (.dependency-cruiser.cjs).
 */

export const TRAINING_METHODS = ["PARM", "GENARM"] as const;
export type TrainingMethod = (typeof TRAINING_METHODS)[number];

/**
 * How often PARM draws α ~ Dirichlet(p·1_k): once per optimizer step (every micro-batch of an accumulation window
 * shares it, as the reference's 8 data-parallel ranks × 4 pairs share one α per 32-pair step) or once per
 * micro-batch. GenARM draws none.
 */
export const ALPHA_CADENCES = ["STEP", "MICRO_BATCH"] as const;
export type AlphaCadence = (typeof ALPHA_CADENCES)[number];

/**
 * How a preference pair is tokenized and cut to maxLength (engine/train/pairs.ts; docs/engine.md "Pair
 * tokenization and truncation"). TRL: TRL 0.9.6 DPOTrainer.tokenize_row, the rule PARM's and GenARM's reference
 * training uses (each response keeps its own prompt/response boundary; the prompt keeps its last maxPromptLength
 * tokens, BOS included or not; responses are cut to maxLength − maxPromptLength). PREFIX_SHARED: one prompt shared
 * by both responses (a token merging across the boundary moves into both), BOS kept when the prompt is cut,
 * responses cut to maxLength − the prompt's length.
 */
export const PAIR_TRUNCATIONS = ["TRL", "PREFIX_SHARED"] as const;
export type PairTruncation = (typeof PAIR_TRUNCATIONS)[number];

export interface TrainingRecipe {
  /** PARM: rank r1 of the shared block W1. GenARM: the LoRA rank. */
  readonly r1: number;
  /** PARM: rank r2 of the preference-aware blocks W2_i (the scale's divisor). GenARM: not used. */
  readonly r2: number;
  /** lora_alpha: scale s = loraAlpha / r2 (PARM) or loraAlpha / rank (GenARM). */
  readonly loraAlpha: number;
  /** PEFT `lora_dropout` on each adapter's input while training (never at decode or evaluation). */
  readonly loraDropout: number;
  /** When α is drawn (PARM). */
  readonly alphaPer: AlphaCadence;
  /** Pair tokenization and truncation rule. */
  readonly truncation: PairTruncation;
  readonly lr: number;
  /** Passes over the training pairs. */
  readonly epochs: number;
  /** Pairs per micro-batch × micro-batches per optimizer step = the reference's 32 pairs per step. */
  readonly batchSize: number;
  readonly gradAccum: number;
  /** Linear warm-up updates before the cosine decay. */
  readonly warmupSteps: number;
  /** AdamW's decoupled weight decay. */
  readonly weightDecay: number;
  /** Dirichlet concentration p of the α draws (PARM). */
  readonly dirichletP: number;
  /** Global gradient-norm clip (HF Trainer's max_grad_norm). */
  readonly maxGradNorm: number;
}

/** Prompt + response tokens of a training sequence, and of its prompt, where the model's context allows. */
export const TRAINING_MAX_LENGTH = 1024;
export const TRAINING_MAX_PROMPT_LENGTH = 512;

/** Default maxLength for a model of `context` tokens (null: unknown): min(1024, context). */
export function defaultMaxLength(context: number | null): number {
  return context === null ? TRAINING_MAX_LENGTH : Math.min(TRAINING_MAX_LENGTH, context);
}

/** Default maxPromptLength for a maxLength: min(512, ⌊maxLength / 2⌋). */
export function defaultMaxPromptLength(maxLength: number): number {
  return Math.min(TRAINING_MAX_PROMPT_LENGTH, Math.floor(maxLength / 2));
}

export const TRAINING_RECIPES: Readonly<Record<TrainingMethod, TrainingRecipe>> = {
  PARM: {
    r1: 4, r2: 4, loraAlpha: 8, loraDropout: 0.05, alphaPer: "STEP", truncation: "TRL",
    lr: 5e-4, epochs: 2, batchSize: 4, gradAccum: 8, warmupSteps: 20, weightDecay: 0.05, dirichletP: 0.5, maxGradNorm: 1,
  },
  GENARM: {
    r1: 8, r2: 8, loraAlpha: 16, loraDropout: 0.05, alphaPer: "STEP", truncation: "TRL",
    lr: 5e-4, epochs: 1, batchSize: 4, gradAccum: 8, warmupSteps: 20, weightDecay: 0.05, dirichletP: 0.5, maxGradNorm: 1,
  },
};

/** Bounds of `loraDropout`: 0 ≤ p < 1. */
export const LORA_DROPOUT_MAX_EXCLUSIVE = 1;
