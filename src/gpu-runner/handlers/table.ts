/** @module gpu-runner/handlers/table — the JobHandler for each job kind (exhaustive). */
import { UnreachableCaseError, type JobKind } from "../../contracts/index.ts";
import { generateHandler } from "./generate.ts";
import { trainHandler } from "./train.ts";
import type { JobHandler } from "./types.ts";
import { evaluateHandler } from "./evaluate.ts";
import { trainEvaluatorHandler } from "./train-evaluator.ts";

export function handlerFor<K extends JobKind>(kind: K): JobHandler<K>;
export function handlerFor(kind: JobKind): JobHandler {
  switch (kind) {
    case "train":
      return trainHandler as JobHandler;
    case "generate":
      return generateHandler as JobHandler;
    case "evaluate":
      return evaluateHandler as JobHandler;
    case "train-evaluator":
      return trainEvaluatorHandler as JobHandler;
    default:
      throw new UnreachableCaseError(kind);
  }
}
