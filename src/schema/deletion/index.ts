/** @module schema/deletion
 *  Inputs and payloads of the delete mutations: `deleteX(input: DeleteXInput!): DeleteXPayload!` with
 *  `DeleteXInput { id }` and the union `DeleteXSuccess { deletedId freedBytes } | NotFoundError | ResourceInUse |
 *  ValidationError`, for X in Dataset, Model, Adapter, Generation, Evaluation. */
import "reflect-metadata";
import { Field, Float, ID, InputType, ObjectType, createUnionType } from "type-graphql";
import { NotFoundError, ResourceInUse, ValidationError, resolveAbstractType } from "../common/index.ts";

/** What every `DeleteXSuccess` carries. */
export interface DeleteSuccessFields {
  deletedId: string;
  freedBytes: number;
}

/** Builds `DeleteXInput`, `DeleteXSuccess` and `DeleteXPayload` for the Node type `typeName`. */
function deleteTypes(typeName: string, freed: string) {
  @InputType(`Delete${typeName}Input`)
  class Input {
    @Field(() => ID, { description: `Global id of the ${typeName} to delete.` })
    id!: string;
  }

  @ObjectType(`Delete${typeName}Success`)
  class Success implements DeleteSuccessFields {
    @Field(() => ID, { description: `Global id of the deleted ${typeName}.` })
    deletedId!: string;
    @Field(() => Float, { description: `Bytes returned to the tenant's storage quota: ${freed}.` })
    freedBytes!: number;
    constructor(init?: DeleteSuccessFields) {
      if (init) Object.assign(this, init);
    }
  }

  const Payload = createUnionType({
    name: `Delete${typeName}Payload`,
    types: () => [Success, NotFoundError, ResourceInUse, ValidationError] as const,
    resolveType: resolveAbstractType,
  });
  return { Input, Success, Payload };
}

const dataset = deleteTypes("Dataset", "its byteSize (maxDatasetBytes)");
const model = deleteTypes("Model", "its storedBytes (maxModelBytes); 0 for a file registered by location");
const adapter = deleteTypes("Adapter", "always 0 (adapters count against no quota)");
const generation = deleteTypes("Generation", "always 0");
const evaluation = deleteTypes("Evaluation", "always 0");

export const DeleteDatasetInput = dataset.Input;
export type DeleteDatasetInput = InstanceType<typeof DeleteDatasetInput>;
export const DeleteDatasetSuccess = dataset.Success;
export const DeleteDatasetPayload = dataset.Payload;

export const DeleteModelInput = model.Input;
export type DeleteModelInput = InstanceType<typeof DeleteModelInput>;
export const DeleteModelSuccess = model.Success;
export const DeleteModelPayload = model.Payload;

export const DeleteAdapterInput = adapter.Input;
export type DeleteAdapterInput = InstanceType<typeof DeleteAdapterInput>;
export const DeleteAdapterSuccess = adapter.Success;
export const DeleteAdapterPayload = adapter.Payload;

export const DeleteGenerationInput = generation.Input;
export type DeleteGenerationInput = InstanceType<typeof DeleteGenerationInput>;
export const DeleteGenerationSuccess = generation.Success;
export const DeleteGenerationPayload = generation.Payload;

export const DeleteEvaluationInput = evaluation.Input;
export type DeleteEvaluationInput = InstanceType<typeof DeleteEvaluationInput>;
export const DeleteEvaluationSuccess = evaluation.Success;
export const DeleteEvaluationPayload = evaluation.Payload;
