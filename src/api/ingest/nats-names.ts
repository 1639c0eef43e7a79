/**
 * @module api/ingest/nats-names — names of the NATS KV buckets and object store shared with the runners, per bus
 * namespace: "" → `runners`, `artifacts`, `job_cancels`; `ns` → `ns_runners`, … (the runner computes the same in
 * gpu-runner/runner/nats-names.ts; docs/runners.md is the reference).
 */
import { ARTIFACTS_OBJECT_STORE, RUNNERS_KV_BUCKET, SubjectTokenSchema } from "../../contracts/index.ts";

export const JOB_CANCELS_KV_BUCKET = "job_cancels";

export interface SharedNatsNames {
  readonly runnersBucket: string;
  readonly artifactsStore: string;
  readonly cancelsBucket: string;
}

export function sharedNatsNames(namespace = ""): SharedNatsNames {
  if (namespace !== "" && !SubjectTokenSchema.safeParse(namespace).success) {
    throw new TypeError(`namespace ${JSON.stringify(namespace)} must contain only letters, digits, "-" and "_"`);
  }
  const prefix = namespace === "" ? "" : `${namespace}_`;
  return {
    runnersBucket: `${prefix}${RUNNERS_KV_BUCKET}`,
    artifactsStore: `${prefix}${ARTIFACTS_OBJECT_STORE}`,
    cancelsBucket: `${prefix}${JOB_CANCELS_KV_BUCKET}`,
  };
}
