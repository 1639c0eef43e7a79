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
}

export const TRAINING_RECIPES: Readonly<Record<TrainingMethod, TrainingRecipe>> = {
  PARM: { r1: 4, r2: 4, loraAlpha: 8, loraDropout: 0.05, alphaPer: "STEP" },
  GENARM: { r1: 8, r2: 8, loraAlpha: 16, loraDropout: 0.05, alphaPer: "STEP" },
};

/** Bounds of `loraDropout`: 0 ≤ p < 1. */
export const LORA_DROPOUT_MAX_EXCLUSIVE = 1;
