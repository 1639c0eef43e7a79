/**
 * @module gpu-runner/runner/nats-names — names of the NATS KV buckets and object store the runner uses, per bus
 * namespace (see bus/names.ts): "" → `runners`, `artifacts`, `job_cancels`; `ns` → `ns_runners`, … .
 * The api side (api/ingest/nats-names.ts) computes the same names; docs/runners.md lists them.
 */
import { ARTIFACTS_OBJECT_STORE, RUNNERS_KV_BUCKET, SubjectTokenSchema } from "../../contracts/index.ts";

/** KV bucket whose keys are ids of jobs whose cancellation was requested (value: a JSON reason). */
export const JOB_CANCELS_KV_BUCKET = "job_cancels";

export interface RunnerNatsNames {
  readonly runnersBucket: string;
  readonly artifactsStore: string;
  readonly cancelsBucket: string;
}

export class InvalidNamespaceError extends Error {
  override readonly name = "InvalidNamespaceError";
  readonly code = "INVALID_NAMESPACE" as const;
}

export function runnerNatsNames(namespace = ""): RunnerNatsNames {
  if (namespace !== "" && !SubjectTokenSchema.safeParse(namespace).success) {
    throw new InvalidNamespaceError(`namespace ${JSON.stringify(namespace)} must contain only letters, digits, "-" and "_"`);
  }
  const prefix = namespace === "" ? "" : `${namespace}_`;
  return {
    runnersBucket: `${prefix}${RUNNERS_KV_BUCKET}`,
    artifactsStore: `${prefix}${ARTIFACTS_OBJECT_STORE}`,
    cancelsBucket: `${prefix}${JOB_CANCELS_KV_BUCKET}`,
  };
}
