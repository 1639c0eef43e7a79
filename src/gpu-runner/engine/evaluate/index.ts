/**
 * @module engine/evaluate
 * Evaluation of ARMs: scalar reward models as evaluators (graph, training, files), external ONNX reward models,
 * the generation-based evaluation sweep (mean reward vector per α, front, HV, MIP, SVG) and the pairwise-accuracy
 * front.
 */
export {
  buildRewardScoreGraph,
  buildRewardTrainGraph,
  packRewardRows,
  REWARD_INPUTS,
  REWARD_OUTPUTS,
  REWARD_POOLINGS,
  RewardBatchError,
  rewardTensorFeeds,
  rewardTensorShapes,
  rewardTrainBatchFeeds,
  SCORE_HEAD,
  type RewardBatchErrorCode,
  type RewardPair,
  type RewardPooling,
  type RewardRow,
  type RewardScoreGraph,
  type RewardTrainGraph,
} from "./reward-graph.ts";
export {
  EvaluatorFileError,
  exportRewardModel,
  importRewardModel,
  RewardScorer,
  tokenizeForReward,
  type EvaluatorFileErrorCode,
  type RewardModel,
  type RewardModelExpectations,
  type RewardModelMetadata,
  type RewardScorerOptions,
} from "./reward-model.ts";
export {
  rewardPairAccuracy,
  trainEvaluator,
  type EvaluatorTrainProgress,
  type HeldOutAccuracy,
  type TrainEvaluatorOptions,
  type TrainEvaluatorResult,
} from "./train-evaluator.ts";
export {
  EvaluatorError,
  OnnxRewardEvaluator,
  RewardModelEvaluator,
  type Evaluator,
  type EvaluatorErrorCode,
  type OnnxRewardEvaluatorOptions,
  type RewardModelEvaluatorOptions,
} from "./evaluator.ts";
export {
  EvaluationRunError,
  evaluationPromptLimit,
  meanAndStandardError,
  runEvaluation,
  scoreResponses,
  type BatchGenerate,
  type EvaluatedPoint,
  type EvaluationResult,
  type EvaluationRunErrorCode,
  type RunEvaluationOptions,
} from "./run.ts";
export { pairwiseAccuracyFront, type ArmAdapter, type PairwiseArm, type PairwiseFrontOptions, type PairwiseFrontResult } from "./pairwise-front.ts";
