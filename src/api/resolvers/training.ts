/** @module api/resolvers/training
 *  `startTraining` (PARM or GenARM ARM over chosen dimensions, one dataset per dimension) and `trainEvaluator`
 *  (a reward model for one dimension). Both create a QUEUED job published to the runners. */
import { Arg, Ctx, Mutation, Resolver } from "type-graphql";
import type { EvaluatorPooling as ContractEvaluatorPooling } from "../../contracts/index.ts";
import {
  EvaluatorPooling,
  StartTrainingInput,
  StartTrainingPayload,
  StartTrainingSuccess,
  TrainEvaluatorInput,
  TrainEvaluatorPayload,
  TrainEvaluatorSuccess,
} from "../../schema/job/index.ts";
import type { ApiContext } from "../context.ts";
import { serviceDeps } from "../services/context.ts";
import { asPayload } from "../services/payload-errors.ts";
import { startTraining, trainEvaluator } from "../services/training.ts";
import { UnreachableCaseError } from "../errors/index.ts";
import { inputId } from "./node-ids.ts";

/** The GraphQL EvaluatorPooling value → the job contract's pooling. */
function contractPooling(pooling: EvaluatorPooling): ContractEvaluatorPooling {
  switch (pooling) {
    case EvaluatorPooling.LAST:
      return "last";
    case EvaluatorPooling.MEAN:
      return "mean";
    default:
      throw new UnreachableCaseError(pooling);
  }
}

@Resolver()
export class TrainingResolver {
  @Mutation(() => StartTrainingPayload, {
    description: "Queues ARM training (PARM: one PBLoRA adapter for all dimensions; GENARM: one LoRA per dimension).",
  })
  async startTraining(
    @Arg("input", () => StartTrainingInput) input: StartTrainingInput,
    @Ctx() ctx: ApiContext,
  ): Promise<typeof StartTrainingPayload> {
    const deps = serviceDeps(ctx);
    return asPayload<typeof StartTrainingPayload>(async () => {
      const job = await startTraining(deps, {
        ...input,
        baseModelId: inputId(input.baseModelId, "Model", "input.baseModelId"),
        dimensions: input.dimensions.map((d, i) => ({
          dimensionId: inputId(d.dimensionId, "PreferenceDimension", `input.dimensions[${i}].dimensionId`),
          datasetId: inputId(d.datasetId, "Dataset", `input.dimensions[${i}].datasetId`),
          betaR: d.betaR ?? null,
        })),
      });
      return new StartTrainingSuccess(job);
    });
  }

  @Mutation(() => TrainEvaluatorPayload, { description: "Queues training of an EVALUATOR (reward model) for one dimension." })
  async trainEvaluator(
    @Arg("input", () => TrainEvaluatorInput) input: TrainEvaluatorInput,
    @Ctx() ctx: ApiContext,
  ): Promise<typeof TrainEvaluatorPayload> {
    const deps = serviceDeps(ctx);
    return asPayload<typeof TrainEvaluatorPayload>(async () => {
      const job = await trainEvaluator(deps, {
        ...input,
        dimensionId: inputId(input.dimensionId, "PreferenceDimension", "input.dimensionId"),
        baseModelId: inputId(input.baseModelId, "Model", "input.baseModelId"),
        datasetId: inputId(input.datasetId, "Dataset", "input.datasetId"),
        pooling: contractPooling(input.pooling),
      });
      return new TrainEvaluatorSuccess(job);
    });
  }
}
