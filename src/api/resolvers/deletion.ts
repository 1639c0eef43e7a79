/** @module api/resolvers/deletion
 *  `deleteDataset`, `deleteModel`, `deleteAdapter`, `deleteGeneration`, `deleteEvaluation`: any tenant key
 *  (MEMBER or TENANT_ADMIN, the keys that create them). Each answers `DeleteXSuccess { deletedId freedBytes }`, or
 *  `ResourceInUse` (still used; nothing changed), `NotFoundError` (also another tenant's id) or `ValidationError`
 *  (a malformed id). Rules: services/deletion.ts. */
import { Arg, Ctx, Mutation, Resolver } from "type-graphql";
import {
  DeleteAdapterInput,
  DeleteAdapterPayload,
  DeleteAdapterSuccess,
  DeleteDatasetInput,
  DeleteDatasetPayload,
  DeleteDatasetSuccess,
  DeleteEvaluationInput,
  DeleteEvaluationPayload,
  DeleteEvaluationSuccess,
  DeleteGenerationInput,
  DeleteGenerationPayload,
  DeleteGenerationSuccess,
  DeleteModelInput,
  DeleteModelPayload,
  DeleteModelSuccess,
  type DeleteSuccessFields,
} from "../../schema/deletion/index.ts";
import { toGlobalId, type ErrorInterface } from "../../schema/common/index.ts";
import type { ApiContext } from "../context.ts";
import { serviceDeps } from "../services/context.ts";
import { deleteAdapter, deleteDataset, deleteEvaluation, deleteGeneration, deleteModel, type DeletionOutcome } from "../services/deletion.ts";
import type { TenantServiceDeps } from "../services/deps.ts";
import { asPayload } from "../services/payload-errors.ts";
import { inputId } from "./node-ids.ts";

type Delete = (deps: TenantServiceDeps, id: string) => Promise<DeletionOutcome>;

/** Decodes `input.id` of `typeName`, runs `remove`, and answers the success or the expected failure. */
async function runDelete<S>(
  ctx: ApiContext,
  typeName: string,
  globalId: string,
  remove: Delete,
  success: new (init: DeleteSuccessFields) => S,
): Promise<S | ErrorInterface> {
  const deps = serviceDeps(ctx);
  return asPayload<S | ErrorInterface>(async () => {
    const outcome = await remove(deps, inputId(globalId, typeName, "input.id"));
    ctx.log.info(`${typeName.toLowerCase()} deleted`, { tenantId: deps.tenantId, id: outcome.deletedId, freedBytes: Number(outcome.freedBytes) });
    return new success({ deletedId: toGlobalId(typeName, outcome.deletedId), freedBytes: Number(outcome.freedBytes) });
  });
}

@Resolver()
export class DeletionResolver {
  @Mutation(() => DeleteDatasetPayload, {
    description: "Deletes a dataset with its records and snapshot, freeing its byteSize; refused while adapters, evaluator models or active jobs use it.",
  })
  async deleteDataset(@Arg("input", () => DeleteDatasetInput) input: DeleteDatasetInput, @Ctx() ctx: ApiContext): Promise<typeof DeleteDatasetPayload> {
    return (await runDelete(ctx, "Dataset", input.id, deleteDataset, DeleteDatasetSuccess)) as typeof DeleteDatasetPayload;
  }

  @Mutation(() => DeleteModelPayload, {
    description: "Deletes a model, freeing its storedBytes and deleting an uploaded file (never a file registered by location); refused while adapters, evaluations or active jobs use it.",
  })
  async deleteModel(@Arg("input", () => DeleteModelInput) input: DeleteModelInput, @Ctx() ctx: ApiContext): Promise<typeof DeleteModelPayload> {
    return (await runDelete(ctx, "Model", input.id, deleteModel, DeleteModelSuccess)) as typeof DeleteModelPayload;
  }

  @Mutation(() => DeleteAdapterPayload, {
    description: "Deletes an adapter and its stored files (adapter weights, training checkpoint); refused while an active generation or evaluation job uses it.",
  })
  async deleteAdapter(@Arg("input", () => DeleteAdapterInput) input: DeleteAdapterInput, @Ctx() ctx: ApiContext): Promise<typeof DeleteAdapterPayload> {
    return (await runDelete(ctx, "Adapter", input.id, deleteAdapter, DeleteAdapterSuccess)) as typeof DeleteAdapterPayload;
  }

  @Mutation(() => DeleteGenerationPayload, {
    description: "Deletes a generation with its job and streamed tokens; refused while its job is QUEUED or RUNNING (cancel it first).",
  })
  async deleteGeneration(@Arg("input", () => DeleteGenerationInput) input: DeleteGenerationInput, @Ctx() ctx: ApiContext): Promise<typeof DeleteGenerationPayload> {
    return (await runDelete(ctx, "Generation", input.id, deleteGeneration, DeleteGenerationSuccess)) as typeof DeleteGenerationPayload;
  }

  @Mutation(() => DeleteEvaluationPayload, {
    description: "Deletes an evaluation with its Pareto points, job and events; refused while its job is QUEUED or RUNNING (cancel it first).",
  })
  async deleteEvaluation(@Arg("input", () => DeleteEvaluationInput) input: DeleteEvaluationInput, @Ctx() ctx: ApiContext): Promise<typeof DeleteEvaluationPayload> {
    return (await runDelete(ctx, "Evaluation", input.id, deleteEvaluation, DeleteEvaluationSuccess)) as typeof DeleteEvaluationPayload;
  }
}
