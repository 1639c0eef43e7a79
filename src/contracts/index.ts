/** @module contracts — job and event payloads, subject names and dataset parsing shared by api and runner. */
export * from "./errors.ts";
export * from "./preference.ts";
export * from "./nul-character.ts";
export * from "./jobs.ts";
export {
  ALPHA_CADENCES,
  LORA_DROPOUT_MAX_EXCLUSIVE,
  PAIR_TRUNCATIONS,
  TRAINING_MAX_LENGTH,
  TRAINING_MAX_PROMPT_LENGTH,
  TRAINING_METHODS,
  TRAINING_RECIPES,
  defaultMaxLength,
  defaultMaxPromptLength,
  type AlphaCadence,
  type PairTruncation,
  type TrainingMethod,
  type TrainingRecipe,
} from "./training-recipe.ts";
export * from "./job-limits.ts";
export * from "./events.ts";
export * from "./runners.ts";
export * from "./datasets/index.ts";
export * from "./examples.ts";
export * from "./prompt-template.ts";
export * from "./chat-template-sandbox.ts";
