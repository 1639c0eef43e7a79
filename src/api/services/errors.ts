/** @module api/services/errors
 *
 * Expected failures of the domain services. Resolvers turn each into the matching GraphQL error type
 * (a member of the mutation's payload union); anything else is a bug and reaches top-level `errors`.
 * Every class carries a stable `code`.
 */
import type { DatasetValidationReport } from "../../contracts/datasets/types.ts";
import type { PreferenceProblem } from "../../contracts/preference.ts";
import { JOB_LIMITS, type JobLimits } from "../../contracts/job-limits.ts";

export type DomainErrorCode =
  | "NOT_FOUND"
  | "VALIDATION_FAILED"
  | "INVALID_PREFERENCE_VECTOR"
  | "QUOTA_EXCEEDED"
  | "DATASET_VALIDATION_FAILED"
  | "VOCABULARY_MISMATCH"
  | "MODEL_FILE_INVALID"
  | "JOB_NOT_CANCELLABLE"
  | "NAME_TAKEN"
  | "LIMIT_EXCEEDED"
  | "RESOURCE_IN_USE";

export abstract class DomainError extends Error {
  abstract readonly code: DomainErrorCode;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The entity does not exist for this tenant (another tenant's id reads the same as a missing one). */
export class EntityNotFoundError extends DomainError {
  readonly code = "NOT_FOUND";
  constructor(
    readonly entity: string,
    readonly id: string,
  ) {
    super(`${entity} ${id} was not found`);
  }
}

/** An input field is wrong; `field` is its dotted path in the mutation input. */
export class InputValidationError extends DomainError {
  readonly code = "VALIDATION_FAILED";
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

/** A name must be unique per tenant and is taken. */
export class NameTakenError extends DomainError {
  readonly code = "NAME_TAKEN";
  constructor(
    readonly entity: string,
    readonly field: string,
    readonly value: string,
  ) {
    super(`${field}: a ${entity} named ${JSON.stringify(value)} already exists`);
  }
}

/** α is not on the simplex of the adapter's dimensions; `vectorIndex` names which α of the request. */
export class PreferenceVectorError extends DomainError {
  readonly code = "INVALID_PREFERENCE_VECTOR";
  constructor(
    readonly problem: PreferenceProblem,
    readonly vectorIndex: number,
    readonly field: string,
  ) {
    super(`${field}[${vectorIndex}]: ${problem.message}`);
  }
}

export type QuotaName = "CONCURRENT_JOBS" | "DATASET_BYTES" | "MODEL_BYTES";

/** The Tenant field that holds each quota (what `QuotaExceeded.quota` names). */
export const QUOTA_FIELDS: Record<QuotaName, string> = {
  CONCURRENT_JOBS: "maxConcurrentJobs",
  DATASET_BYTES: "maxDatasetBytes",
  MODEL_BYTES: "maxModelBytes",
};

/** A tenant quota would be exceeded. `retryAfterSeconds` is set when waiting can help. */
export class TenantQuotaError extends DomainError {
  readonly code = "QUOTA_EXCEEDED";
  constructor(
    readonly quota: QuotaName,
    readonly limit: number,
    readonly current: number,
    readonly requested: number,
    readonly retryAfterSeconds: number | null,
  ) {
    super(
      quota === "CONCURRENT_JOBS"
        ? `concurrent job quota exceeded: ${current} of ${limit} jobs are queued or running`
        : `${quota === "DATASET_BYTES" ? "dataset" : "model"} storage quota (${QUOTA_FIELDS[quota]}) exceeded: ${current} bytes stored + ${requested} bytes requested > ${limit} bytes`,
    );
  }
}

/** A job asks for more work than one job may (contracts/job-limits.ts); `field` names the input that lowers it. */
export class JobLimitError extends DomainError {
  readonly code = "LIMIT_EXCEEDED";
  constructor(
    readonly limit: keyof JobLimits,
    readonly max: number,
    readonly requested: number,
    readonly field: string,
    detail: string,
    /** Whether the tenant's own limit (set by the platform admin) or the server's applies. */
    readonly source: "tenant" | "server" = "server",
  ) {
    super(`${field}: ${detail} — ${requested} exceeds ${limit} = ${max} (${source === "tenant" ? "this tenant's own limit" : JOB_LIMITS[limit].env})`);
  }
}

/** An upload was rejected; nothing was stored. The report lists line numbers, reasons and counts. */
export class DatasetRejectedError extends DomainError {
  readonly code = "DATASET_VALIDATION_FAILED";
  constructor(
    readonly report: DatasetValidationReport,
    readonly reason: string,
  ) {
    const first = report.fatal ?? report.issues[0];
    super(`dataset rejected: ${reason}` + (first ? ` (first problem: line ${first.line} ${first.code}: ${first.reason})` : ""));
  }
}

/** Two models that must share a vocabulary (base LM and ARM backbone) do not. */
export class VocabularyMismatchError extends DomainError {
  readonly code = "VOCABULARY_MISMATCH";
  constructor(
    readonly baseModelId: string,
    readonly otherModelId: string,
    readonly baseVocabSize: number | null,
    readonly otherVocabSize: number | null,
    readonly detail: string,
  ) {
    super(`models ${baseModelId} and ${otherModelId} do not share a vocabulary: ${detail}`);
  }
}

/** A job in a terminal state cannot be cancelled. */
export class JobNotCancellableError extends DomainError {
  readonly code = "JOB_NOT_CANCELLABLE";
  constructor(
    readonly jobId: string,
    readonly status: string,
  ) {
    super(`job ${jobId} is ${status} and can no longer be cancelled`);
  }
}

/** A reference to a row that other rows still use, by entity type name (a GraphQL type: "Adapter", "Job", …). */
export interface ResourceUser {
  entity: string;
  id: string;
}

/** The entity cannot be deleted while `users` reference it; nothing was changed. `message` names them. */
export class ResourceInUseError extends DomainError {
  readonly code = "RESOURCE_IN_USE";
  constructor(
    readonly entity: string,
    readonly id: string,
    readonly users: readonly ResourceUser[],
    readonly detail: string,
  ) {
    super(`${entity} ${id} is in use: ${detail}`);
  }
}
