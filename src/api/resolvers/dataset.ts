/** @module api/resolvers/dataset
 *  Datasets: `datasets` (connection, optional status filter), `createDataset`, `uploadDataset` (base64 JSON Lines
 *  or gzip, for small files; large files go to POST /v1/datasets/:id/records). Tenant keys only (MEMBER or
 *  TENANT_ADMIN); another tenant's dataset id reads as NotFoundError. */
import { Arg, Args, ArgsType, Ctx, Field, FieldResolver, ID, Mutation, Query, Resolver, Root } from "type-graphql";
import type { DatasetValidationReport as ContractReport } from "../../contracts/index.ts";
import { ConnectionArgs, paginate, toGlobalId, type ConnectionResult } from "../../schema/common/index.ts";
import {
  CreateDatasetInput,
  CreateDatasetPayload,
  CreateDatasetSuccess,
  Dataset,
  DatasetConnection,
  DatasetLabelMapping,
  DatasetStatus,
  DatasetValidationReport,
  SplitCounts,
  SplitRatios,
  UploadDatasetInput,
  UploadDatasetPayload,
  UploadDatasetSuccess,
} from "../../schema/dataset/index.ts";
import type { ApiContext } from "../context.ts";
import { serviceDeps } from "../services/context.ts";
import { createDataset, datasetDimensionMap, singleChunk, uploadDataset, type DatasetRow } from "../services/datasets.ts";
import { InputValidationError } from "../services/errors.ts";
import { asPayload, reportToGraphQL } from "../services/payload-errors.ts";
import { inputId } from "./node-ids.ts";
import { tenantScopedNode } from "./node-registry.ts";
import { storedJson } from "../db/index.ts";

export const datasetNode = tenantScopedNode("Dataset", "dataset");

/** Largest decoded GraphQL upload; larger files use the streaming route. */
export const MAX_GRAPHQL_UPLOAD_BYTES = 8 * 1024 * 1024;

@ArgsType()
class DatasetsArgs extends ConnectionArgs {
  @Field(() => DatasetStatus, { nullable: true })
  status?: DatasetStatus | null;
}

function splitCounts(value: unknown): SplitCounts | null {
  if (!value || typeof value !== "object") return null;
  const counts = value as Record<string, number>;
  return { train: counts.TRAIN ?? 0, validation: counts.VALIDATION ?? 0, test: counts.TEST ?? 0 };
}

@Resolver(() => Dataset)
export class DatasetResolver {
  @FieldResolver(() => ID)
  id(@Root() row: DatasetRow): string {
    return toGlobalId("Dataset", row.id);
  }

  @FieldResolver(() => [DatasetLabelMapping])
  dimensionMap(@Root() row: DatasetRow): DatasetLabelMapping[] {
    return Object.entries(datasetDimensionMap(row)).map(([label, dimensionId]) => ({
      label,
      dimensionId: toGlobalId("PreferenceDimension", dimensionId),
    }));
  }

  @FieldResolver(() => SplitRatios)
  splitRatios(@Root() row: DatasetRow): SplitRatios {
    return storedJson<SplitRatios>(row.splitRatios);
  }

  @FieldResolver(() => SplitCounts, { nullable: true })
  splitCounts(@Root() row: DatasetRow): SplitCounts | null {
    return splitCounts(row.splitCounts);
  }

  @FieldResolver(() => Number)
  byteSize(@Root() row: DatasetRow): number {
    return Number(row.byteSize);
  }

  @FieldResolver(() => DatasetValidationReport, { nullable: true })
  validationReport(@Root() row: DatasetRow): DatasetValidationReport | null {
    return row.validationReport ? reportToGraphQL(storedJson<ContractReport>(row.validationReport)) : null;
  }

  @Query(() => DatasetConnection, { description: "The tenant's datasets, newest first." })
  async datasets(@Args(() => DatasetsArgs) args: DatasetsArgs, @Ctx() ctx: ApiContext): Promise<ConnectionResult<DatasetRow>> {
    const { db } = serviceDeps(ctx);
    const filter = args.status ? { status: args.status } : {};
    return paginate(args, async (q) =>
      (await db.dataset.findMany({ where: { AND: [filter, q.where] }, orderBy: q.orderBy, take: q.take })) as DatasetRow[],
    );
  }

  @Mutation(() => CreateDatasetPayload, { description: "A new EMPTY dataset: format, label → dimension map, split ratios." })
  async createDataset(
    @Arg("input", () => CreateDatasetInput) input: CreateDatasetInput,
    @Ctx() ctx: ApiContext,
  ): Promise<typeof CreateDatasetPayload> {
    const deps = serviceDeps(ctx);
    return asPayload<typeof CreateDatasetPayload>(async () => {
      const labels = input.labels.map((l, i) => ({ label: l.label, dimensionId: inputId(l.dimensionId, "PreferenceDimension", `input.labels[${i}].dimensionId`) }));
      const row = await createDataset(deps, { name: input.name, format: input.format, labels, splitRatios: input.splitRatios ?? null });
      return new CreateDatasetSuccess(row as unknown as Dataset);
    });
  }

  @Mutation(() => UploadDatasetPayload, {
    description: "Validates and stores a small upload (base64 JSON Lines, gzip detected). Rejected uploads store no record.",
  })
  async uploadDataset(
    @Arg("input", () => UploadDatasetInput) input: UploadDatasetInput,
    @Ctx() ctx: ApiContext,
  ): Promise<typeof UploadDatasetPayload> {
    const deps = serviceDeps(ctx);
    return asPayload<typeof UploadDatasetPayload>(async () => {
      const datasetId = inputId(input.datasetId, "Dataset", "input.datasetId");
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(input.contentBase64.replace(/\s+/g, ""))) {
        throw new InputValidationError("input.contentBase64", "is not base64");
      }
      const bytes = Buffer.from(input.contentBase64, "base64");
      if (bytes.length === 0) throw new InputValidationError("input.contentBase64", "is empty");
      if (bytes.length > MAX_GRAPHQL_UPLOAD_BYTES) {
        throw new InputValidationError(
          "input.contentBase64",
          `GraphQL uploads are limited to ${MAX_GRAPHQL_UPLOAD_BYTES} bytes; stream larger files to POST /v1/datasets/:id/records`,
        );
      }
      const outcome = await uploadDataset(deps, datasetId, singleChunk(bytes));
      return new UploadDatasetSuccess({ dataset: outcome.dataset as unknown as Dataset, report: reportToGraphQL(outcome.report) });
    });
  }
}
