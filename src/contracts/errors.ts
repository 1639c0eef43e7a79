/** @module contracts/errors — typed errors raised when a message or payload breaks a shared contract. */
import type { ZodError } from "zod";

/** One problem found while validating a contract value: where (dotted path) and what. */
export interface ContractIssue {
  readonly path: string;
  readonly message: string;
}

/** A value does not satisfy a contract schema (job envelope, payload, event). `issues` names each field. */
export class ContractValidationError extends Error {
  override readonly name = "ContractValidationError";
  readonly code = "CONTRACT_VALIDATION_FAILED" as const;
  constructor(
    readonly contract: string,
    readonly issues: readonly ContractIssue[],
  ) {
    super(`${contract} is invalid: ${issues.map((i) => `${i.path || "(root)"}: ${i.message}`).join("; ")}`);
  }

  static fromZod(contract: string, error: ZodError): ContractValidationError {
    return new ContractValidationError(
      contract,
      error.issues.map((issue) => ({ path: issue.path.map(String).join("."), message: issue.message })),
    );
  }
}

/** A subject token (tenant id, job id) contains characters NATS subjects reserve (`.`, `*`, `>`, whitespace). */
export class InvalidSubjectTokenError extends Error {
  override readonly name = "InvalidSubjectTokenError";
  readonly code = "INVALID_SUBJECT_TOKEN" as const;
  constructor(
    readonly field: string,
    readonly value: string,
  ) {
    super(`${field} ${JSON.stringify(value)} cannot be used in a NATS subject (allowed: letters, digits, "-", "_")`);
  }
}

/** Thrown by the default branch of an exhaustive `switch`: reaching it is a bug. The one definition for contracts,
 *  bus, api and runner; the engine, which imports none of them, has its own in engine/util/errors.ts. */
export class UnreachableCaseError extends Error {
  override readonly name = "UnreachableCaseError";
  readonly code = "UNREACHABLE_CASE" as const;
  constructor(value: never) {
    super(`unreachable case: ${JSON.stringify(value)}`);
  }
}
