/** @module api/services/datasets
 *
 * Preference-pair datasets: creation (format, label → dimension map, split ratios) and uploads.
 *
 * Upload contract:
 * - Validation is fail-fast and complete: the whole upload is parsed by the contracts parser (plain or gzip JSON
 *   Lines), the report lists line numbers, codes and reasons with exact counts, and `judgeDatasetReport`
 *   decides. A rejected upload stores no record: records are inserted inside ONE transaction that is rolled back;
 *   only the dataset's status (REJECTED) and the report are kept so the console can show them.
 * - Splits are assigned by the parser from the pair hash (deterministic, ratios per dataset).
 * - Quota: `Tenant.maxDatasetBytes` bounds the sum of stored datasets' decompressed bytes. The parser stops
 *   at the remaining allowance; the final check runs under a per-tenant advisory lock just before commit.
 * - Limits per upload (`deps.datasetLimits`, default the contract's): decompressed bytes, gzip expansion ratio
 *   and lines. Breaking one is a DatasetValidationFailed whose fatal issue names the limit; nothing more is parsed
 *   or stored (the remaining source is read and dropped).
 * - A dataset takes one accepted upload (READY datasets refuse another: create a new dataset).
 * - In PostgreSQL `preferences` maps dimension id → preferred index; the runner snapshot (JSON Lines of the
 *   contract's PreferenceRecord, written through the SnapshotWriter before commit; `snapshotKey` holds its
 *   location) keeps the contract's label names ("preferred", "better", "safer") with the dataset's `dimensionMap`.
 */
import { createHash } from "node:crypto";
import {
  DEFAULT_DATASET_LIMITS,
  DEFAULT_LABEL_NAMES,
  DEFAULT_SPLIT_RATIOS,
  SplitRatiosSchema,
  createDatasetParser,
  judgeDatasetReport,
  type DatasetFormat,
  type DatasetSplit,
  type DatasetValidationReport,
  type PreferenceRecord,
  type SplitRatios,
} from "../../contracts/index.ts";
import { jsonInput, type Dataset, type Prisma, type TenantTransactionClient } from "../db/index.ts";
import type { TenantServiceDeps } from "./deps.ts";
import {
  DatasetRejectedError,
  EntityNotFoundError,
  InputValidationError,
  NameTakenError,
  TenantQuotaError,
} from "./errors.ts";
import { isUniqueViolation } from "../errors/index.ts";

export type DatasetRow = Dataset;

export interface CreateDatasetCommand {
  name: string;
  format: DatasetFormat;
  /** Label of the format → dimension uuid. */
  labels: { label: string; dimensionId: string }[];
  splitRatios?: SplitRatios | null;
}

const MAX_NAME_LENGTH = 200;
/** Records per INSERT while streaming an upload. */
const INSERT_BATCH = 500;
/** Upper bound of one upload transaction. */
const UPLOAD_TRANSACTION_TIMEOUT_MS = 30 * 60 * 1000;

/** Validates a name used for datasets, models and adapters. */
export function checkName(name: string, field: string): string {
  const trimmed = name.trim();
  if (trimmed.length === 0) throw new InputValidationError(field, "must not be empty");
  if (trimmed.length > MAX_NAME_LENGTH) throw new InputValidationError(field, `must be at most ${MAX_NAME_LENGTH} characters`);
  return trimmed;
}

/** The dataset's label → dimension uuid map, as stored. */
export function datasetDimensionMap(row: Pick<DatasetRow, "dimensionMap">): Record<string, string> {
  return (row.dimensionMap ?? {}) as Record<string, string>;
}

export function datasetSplitRatios(row: Pick<DatasetRow, "splitRatios">): SplitRatios {
  return row.splitRatios as SplitRatios;
}

/** The number of accepted records in `split` (0 when the dataset has no recorded counts, i.e. is not READY). */
export function datasetSplitCount(row: Pick<DatasetRow, "splitCounts">, split: DatasetSplit): number {
  const value = ((row.splitCounts ?? {}) as Record<string, unknown>)[split];
  return typeof value === "number" ? value : 0;
}

/** Creates an EMPTY dataset. Every label of the format must map to a distinct existing dimension. */
export async function createDataset(deps: TenantServiceDeps, command: CreateDatasetCommand): Promise<DatasetRow> {
  const name = checkName(command.name, "input.name");
  const expected = DEFAULT_LABEL_NAMES[command.format];
  const dimensionMap: Record<string, string> = {};
  command.labels.forEach((entry, i) => {
    if (!expected.includes(entry.label)) {
      throw new InputValidationError(
        `input.labels[${i}].label`,
        `${JSON.stringify(entry.label)} is not a label of ${command.format} (labels: ${expected.join(", ")})`,
      );
    }
    if (dimensionMap[entry.label] !== undefined) {
      throw new InputValidationError(`input.labels[${i}].label`, `label ${JSON.stringify(entry.label)} is mapped twice`);
    }
    dimensionMap[entry.label] = entry.dimensionId;
  });
  const missing = expected.filter((label) => dimensionMap[label] === undefined);
  if (missing.length > 0) {
    throw new InputValidationError("input.labels", `every label of ${command.format} needs a dimension; missing: ${missing.join(", ")}`);
  }
  const dimensionIds = Object.values(dimensionMap);
  if (new Set(dimensionIds).size !== dimensionIds.length) {
    throw new InputValidationError("input.labels", "each label must map to a different dimension");
  }
  const found = await deps.db.preferenceDimension.findMany({ where: { id: { in: dimensionIds } }, select: { id: true } });
  const foundIds = new Set(found.map((d) => d.id));
  const unknown = command.labels.find((l) => !foundIds.has(l.dimensionId));
  if (unknown) throw new EntityNotFoundError("PreferenceDimension", unknown.dimensionId);

  let splitRatios: SplitRatios = DEFAULT_SPLIT_RATIOS;
  if (command.splitRatios) {
    const parsed = SplitRatiosSchema.safeParse(command.splitRatios);
    if (!parsed.success) {
      throw new InputValidationError("input.splitRatios", parsed.error.issues.map((i) => `${i.path.join(".") || "ratios"}: ${i.message}`).join("; "));
    }
    splitRatios = parsed.data;
  }
  try {
    return (await deps.db.dataset.create({
      data: {
        tenantId: deps.tenantId,
        name,
        format: command.format,
        dimensionMap: dimensionMap as Prisma.InputJsonObject,
        splitRatios: jsonInput(splitRatios),
      },
    })) as DatasetRow;
  } catch (error) {
    if (isUniqueViolation(error)) throw new NameTakenError("dataset", "input.name", name);
    throw error;
  }
}

export interface DatasetUploadOutcome {
  dataset: DatasetRow;
  report: DatasetValidationReport;
}

/** Key of a dataset's snapshot in the artifact store. */
export function datasetSnapshotKey(tenantId: string, datasetId: string): string {
  return `datasets/${tenantId}/${datasetId}.records.jsonl`;
}

/** Bytes the tenant may still store, and the limit. */
async function datasetAllowance(db: TenantServiceDeps["db"] | TenantTransactionClient, tenantId: string) {
  const tenant = await db.tenant.findFirst({ where: { id: tenantId }, select: { maxDatasetBytes: true } });
  if (!tenant) throw new EntityNotFoundError("Tenant", tenantId);
  const sum = await db.dataset.aggregate({ _sum: { byteSize: true } });
  const stored = sum._sum.byteSize ?? 0n;
  return { limit: tenant.maxDatasetBytes, stored, remaining: tenant.maxDatasetBytes - stored };
}

/**
 * Validates and stores an upload (plain or gzip JSON Lines) into an EMPTY or REJECTED dataset.
 * Throws DatasetRejectedError (nothing stored), TenantQuotaError, EntityNotFoundError, InputValidationError.
 */
export async function uploadDataset(
  deps: TenantServiceDeps,
  datasetId: string,
  source: AsyncIterable<Uint8Array>,
): Promise<DatasetUploadOutcome> {
  const dataset = (await deps.db.dataset.findFirst({ where: { id: datasetId } })) as DatasetRow | null;
  if (!dataset) throw new EntityNotFoundError("Dataset", datasetId);
  if (dataset.status === "READY") {
    throw new InputValidationError(
      "input.datasetId",
      `dataset ${dataset.name} already holds ${dataset.recordCount} records; create a new dataset for another upload`,
    );
  }
  const allowance = await datasetAllowance(deps.db, deps.tenantId);
  if (allowance.remaining <= 0n) {
    throw new TenantQuotaError("DATASET_BYTES", Number(allowance.limit), Number(allowance.stored), 1, null);
  }
  const limits = deps.datasetLimits ?? DEFAULT_DATASET_LIMITS;
  const quotaBound = allowance.remaining < BigInt(limits.maxDecompressedBytes);
  const maxDecompressedBytes = quotaBound ? Number(allowance.remaining) : limits.maxDecompressedBytes;
  const labelNames = DEFAULT_LABEL_NAMES[dataset.format];
  const dimensionMap = datasetDimensionMap(dataset);

  try {
    return await deps.db.$transaction(
      async (tx) => {
        // Serialise uploads into the same dataset: the second waits, then sees READY and stops.
        const locked = await tx.$queryRaw<{ status: string }[]>`SELECT status::text AS status FROM datasets WHERE id = ${datasetId}::uuid FOR UPDATE`;
        if (locked[0]?.status === "READY") {
          throw new InputValidationError("input.datasetId", `dataset ${dataset.name} already holds records; create a new dataset for another upload`);
        }
        const pending: PreferenceRecord[] = [];
        const flush = async () => {
          if (pending.length === 0) return;
          const rows = pending.splice(0, pending.length).map((record) => ({
            tenantId: deps.tenantId,
            datasetId,
            line: record.line,
            prompt: record.prompt,
            response0: record.response0,
            response1: record.response1,
            preferences: Object.fromEntries(
              Object.entries(record.preferences).map(([label, index]) => [dimensionMap[label] ?? label, index]),
            ),
            split: record.split,
            pairHash: record.pairHash,
          }));
          await tx.datasetRecord.createMany({ data: rows });
        };
        const parser = createDatasetParser(dataset.format, {
          splitRatios: datasetSplitRatios(dataset),
          labelNames,
          retainRecords: false,
          ...limits,
          maxDecompressedBytes,
          onRecord: (record) => pending.push(record),
        });
        const hash = createHash("sha256");
        for await (const chunk of source) {
          // After a fatal problem (a limit) the rest is read and dropped unparsed.
          if (parser.fatal) continue;
          hash.update(chunk);
          await parser.push(chunk);
          if (pending.length >= INSERT_BATCH) await flush();
        }
        const { report } = await parser.end();
        await flush();
        if (report.fatal?.code === "TOO_LARGE" && quotaBound) {
          throw new TenantQuotaError("DATASET_BYTES", Number(allowance.limit), Number(allowance.stored), report.bytes, null);
        }
        const verdict = judgeDatasetReport(report);
        if (!verdict.accepted) throw new DatasetRejectedError(report, verdict.reason);

        await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`datasets:${deps.tenantId}`}, 0))`;
        const final = await datasetAllowance(tx, deps.tenantId);
        if (BigInt(report.bytes) > final.remaining) {
          throw new TenantQuotaError("DATASET_BYTES", Number(final.limit), Number(final.stored), report.bytes, null);
        }
        let snapshotKey: string | null = null;
        if (deps.snapshots) {
          // Written before commit: a failed export rolls the upload back, so READY always has its snapshot.
          const snapshot = await deps.snapshots.putSnapshot(datasetSnapshotKey(deps.tenantId, datasetId), datasetRecordLines(tx, datasetId, dimensionMap));
          snapshotKey = snapshot.location;
        }
        const updated = (await tx.dataset.update({
          where: { id: datasetId },
          data: {
            status: "READY",
            recordCount: report.accepted,
            splitCounts: jsonInput(report.splitCounts),
            byteSize: BigInt(report.bytes),
            sha256: hash.digest("hex"),
            validationReport: jsonInput(report),
            snapshotKey,
          },
        })) as DatasetRow;
        return { dataset: updated, report };
      },
      { timeout: UPLOAD_TRANSACTION_TIMEOUT_MS, maxWait: 10_000 },
    );
  } catch (error) {
    if (error instanceof DatasetRejectedError) {
      await deps.db.dataset.update({
        where: { id: datasetId },
        data: { status: "REJECTED", validationReport: jsonInput(error.report) },
      });
    }
    throw error;
  }
}

/** Records per page of `datasetRecordLines` (the runner snapshot's default). */
const SNAPSHOT_PAGE_RECORDS = 1000;

/** A client that pages a dataset's records: a tenant transaction (the snapshot) or the tenant client (downloads, where
 *  every page is its own statement). */
export interface DatasetRecordPages {
  datasetRecord: Pick<TenantTransactionClient["datasetRecord"], "findMany">;
}

/** The dataset's records as contract JSON Lines (label names restored), read in line order in pages of `pageSize`
 *  records, one chunk per page: a page is read only when the consumer asks for the next chunk. */
export async function* datasetRecordLines(
  tx: DatasetRecordPages,
  datasetId: string,
  dimensionMap: Record<string, string>,
  pageSize = SNAPSHOT_PAGE_RECORDS,
): AsyncGenerator<Uint8Array> {
  const labelOf = new Map(Object.entries(dimensionMap).map(([label, dimensionId]) => [dimensionId, label]));
  let afterLine = 0;
  for (;;) {
    const page = await tx.datasetRecord.findMany({
      where: { datasetId, line: { gt: afterLine } },
      orderBy: { line: "asc" },
      take: pageSize,
    });
    if (page.length === 0) return;
    const text = page
      .map((row) => {
        const preferences = Object.fromEntries(
          Object.entries(row.preferences as Record<string, 0 | 1>).map(([dimensionId, index]) => [labelOf.get(dimensionId) ?? dimensionId, index]),
        );
        const record: PreferenceRecord = {
          line: row.line,
          prompt: row.prompt,
          response0: row.response0,
          response1: row.response1,
          preferences,
          pairHash: row.pairHash,
          split: row.split,
        };
        return `${JSON.stringify(record)}\n`;
      })
      .join("");
    yield Buffer.from(text, "utf8");
    afterLine = page[page.length - 1]!.line;
  }
}

/** One chunk as an async source (GraphQL base64 uploads). */
export async function* singleChunk(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}
