/** @module api/services/payload-errors
 *  Maps the services' expected failures (errors.ts, model-inspect.ts) to the GraphQL error types that are members
 *  of mutation payload unions. Anything else is rethrown: bugs and auth failures stay top-level errors. */
import { UnreachableCaseError, type DatasetValidationReport as ContractReport } from "../../contracts/index.ts";
import {
  InvalidPreferenceVector,
  LimitExceeded,
  NotFoundError,
  QuotaExceeded,
  ResourceInUse,
  ValidationError,
  toGlobalId,
  type ErrorInterface,
} from "../../schema/common/index.ts";
import { DatasetValidationFailed, type DatasetValidationReport } from "../../schema/dataset/index.ts";
import { JobNotCancellable } from "../../schema/job/index.ts";
import { ModelFileInvalid, VocabularyMismatch } from "../../schema/model/index.ts";
import {
  DatasetRejectedError,
  DomainError,
  EntityNotFoundError,
  InputValidationError,
  JobLimitError,
  JobNotCancellableError,
  NameTakenError,
  PreferenceVectorError,
  QUOTA_FIELDS,
  ResourceInUseError,
  TenantQuotaError,
  VocabularyMismatchError,
} from "./errors.ts";
import { ModelFileError } from "./model-inspect.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Global id when `id` is a uuid (it always is for rows), else the value unchanged. */
function globalIdOf(typeName: string, id: string): string {
  return UUID.test(id) ? toGlobalId(typeName, id) : id;
}

/** The GraphQL shape of a contract validation report. */
export function reportToGraphQL(report: ContractReport): DatasetValidationReport {
  return {
    format: report.format,
    totalLines: report.totalLines,
    accepted: report.accepted,
    rejected: report.rejected,
    issues: report.issues.map((i) => ({ line: i.line, code: i.code, reason: i.reason })),
    issuesTruncated: report.issuesTruncated,
    countsByCode: Object.entries(report.countsByCode)
      .filter(([, count]) => count > 0)
      .map(([code, count]) => ({ code, count })),
    splitCounts: {
      train: report.splitCounts.TRAIN ?? 0,
      validation: report.splitCounts.VALIDATION ?? 0,
      test: report.splitCounts.TEST ?? 0,
    },
    labelCounts: Object.entries(report.labelCounts).map(([label, counts]) => ({
      label,
      preferResponse0: counts[0],
      preferResponse1: counts[1],
    })),
    bytes: report.bytes,
    gzip: report.gzip,
  };
}

/** The union member for an expected failure; rethrows anything else. */
export function toPayloadError(error: unknown): ErrorInterface {
  if (error instanceof ModelFileError) {
    return new ModelFileInvalid({ message: error.message, location: error.location, problem: error.problem });
  }
  if (!(error instanceof DomainError)) throw error;
  const code = error.code;
  switch (code) {
    case "NOT_FOUND": {
      const e = error as EntityNotFoundError;
      return new NotFoundError({ id: globalIdOf(e.entity, e.id), message: `${e.entity} ${globalIdOf(e.entity, e.id)} was not found` });
    }
    case "VALIDATION_FAILED": {
      const e = error as InputValidationError;
      return new ValidationError({ field: e.field, message: e.message });
    }
    case "NAME_TAKEN": {
      const e = error as NameTakenError;
      return new ValidationError({ field: e.field, message: e.message });
    }
    case "INVALID_PREFERENCE_VECTOR": {
      const e = error as PreferenceVectorError;
      return new InvalidPreferenceVector({ message: e.message, code: e.problem.code, index: e.problem.index ?? null });
    }
    case "QUOTA_EXCEEDED": {
      const e = error as TenantQuotaError;
      return new QuotaExceeded({
        message: e.message,
        quota: QUOTA_FIELDS[e.quota],
        limit: e.limit,
        retryAfter: e.retryAfterSeconds,
      });
    }
    case "DATASET_VALIDATION_FAILED": {
      const e = error as DatasetRejectedError;
      return new DatasetValidationFailed({ message: e.message, report: reportToGraphQL(e.report) });
    }
    case "VOCABULARY_MISMATCH": {
      const e = error as VocabularyMismatchError;
      return new VocabularyMismatch({
        message: e.message,
        baseModelId: globalIdOf("Model", e.baseModelId),
        otherModelId: globalIdOf("Model", e.otherModelId),
        baseVocabSize: e.baseVocabSize,
        otherVocabSize: e.otherVocabSize,
      });
    }
    case "JOB_NOT_CANCELLABLE": {
      const e = error as JobNotCancellableError;
      return new JobNotCancellable({ message: e.message, jobId: globalIdOf("Job", e.jobId), status: e.status as JobNotCancellable["status"] });
    }
    case "LIMIT_EXCEEDED": {
      const e = error as JobLimitError;
      return new LimitExceeded({ message: e.message, limitName: e.limit, max: e.max, requested: e.requested, field: e.field });
    }
    case "RESOURCE_IN_USE": {
      const e = error as ResourceInUseError;
      return new ResourceInUse({
        message: `${e.entity} ${globalIdOf(e.entity, e.id)} is in use: ${e.detail}`,
        usedBy: e.users.map((u) => globalIdOf(u.entity, u.id)),
      });
    }
    case "MODEL_FILE_INVALID":
      throw error;
    default:
      throw new UnreachableCaseError(code);
  }
}

/** Runs a mutation's service call and returns its success, or the union member for an expected failure
 *  (toPayloadError; anything else is rethrown). `Payload` is the mutation's payload union: the error types a
 *  service may raise must be members of it (graphql-js refuses any other type when it resolves the union). */
export async function asPayload<Payload>(run: () => Promise<Payload>): Promise<Payload> {
  try {
    return await run();
  } catch (error) {
    return toPayloadError(error) as Payload;
  }
}
