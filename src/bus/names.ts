/**
 * @module bus/names — stream, subject and consumer names of one bus namespace. The default namespace ("") uses the
 * contract names (JOBS, `jobs.<kind>.<tenant>`, …). A non-empty namespace `ns` isolates a bus on a shared server
 * (tests, side-by-side deployments): streams `ns_JOBS`, subjects `ns.jobs.<kind>.<tenant>`.
 */
import {
  ARTIFACTS_OBJECT_STORE,
  EVENTS_STREAM,
  JOB_CANCELS_KV_BUCKET,
  RUNNERS_KV_BUCKET,
  JOBS_DLQ_STREAM,
  JOBS_STREAM,
  SubjectTokenSchema,
  dlqSubject,
  eventSubject,
  jobConsumerName,
  jobKindFilter,
  jobSubject,
  parseEventSubject,
  type JobKind,
} from "../contracts/index.ts";
import { BusArgumentError } from "./types.ts";

export interface BusNames {
  readonly namespace: string;
  readonly jobsStream: string;
  readonly eventsStream: string;
  readonly dlqStream: string;
  readonly jobsWildcard: string;
  readonly eventsWildcard: string;
  readonly dlqWildcard: string;
  jobSubject(kind: JobKind, tenantId: string): string;
  jobFilter(kind: JobKind): string;
  jobConsumer(kind: JobKind): string;
  eventSubject(jobId: string): string;
  dlqSubject(kind: JobKind, tenantId: string): string;
  /** The job id of an event subject of this namespace, or null. */
  jobIdOfEventSubject(subject: string): string | null;
}

export function busNames(namespace = ""): BusNames {
  if (namespace !== "" && !SubjectTokenSchema.safeParse(namespace).success) {
    throw new BusArgumentError(`bus namespace ${JSON.stringify(namespace)} must contain only letters, digits, "-" and "_"`);
  }
  const subjectPrefix = namespace === "" ? "" : `${namespace}.`;
  const streamPrefix = namespace === "" ? "" : `${namespace}_`;
  return {
    namespace,
    jobsStream: `${streamPrefix}${JOBS_STREAM}`,
    eventsStream: `${streamPrefix}${EVENTS_STREAM}`,
    dlqStream: `${streamPrefix}${JOBS_DLQ_STREAM}`,
    jobsWildcard: `${subjectPrefix}jobs.>`,
    eventsWildcard: `${subjectPrefix}events.job.>`,
    dlqWildcard: `${subjectPrefix}dlq.jobs.>`,
    jobSubject: (kind, tenantId) => subjectPrefix + jobSubject(kind, tenantId),
    jobFilter: (kind) => subjectPrefix + jobKindFilter(kind),
    jobConsumer: (kind) => jobConsumerName(kind),
    eventSubject: (jobId) => subjectPrefix + eventSubject(jobId),
    dlqSubject: (kind, tenantId) => subjectPrefix + dlqSubject(kind, tenantId),
    jobIdOfEventSubject: (subject) => {
      if (!subject.startsWith(subjectPrefix)) return null;
      return parseEventSubject(subject.slice(subjectPrefix.length))?.jobId ?? null;
    },
  };
}

/** KV buckets and object store shared by the api and the runners, per namespace: "" → `runners`, `artifacts`,
 *  `job_cancels`; `ns` → `ns_runners`, … (docs/runners.md is the reference). */
export interface StoreNames {
  readonly runnersBucket: string;
  readonly artifactsStore: string;
  readonly cancelsBucket: string;
}

export function storeNames(namespace = ""): StoreNames {
  if (namespace !== "" && !SubjectTokenSchema.safeParse(namespace).success) {
    throw new BusArgumentError(`bus namespace ${JSON.stringify(namespace)} must contain only letters, digits, "-" and "_"`);
  }
  const prefix = namespace === "" ? "" : `${namespace}_`;
  return {
    runnersBucket: `${prefix}${RUNNERS_KV_BUCKET}`,
    artifactsStore: `${prefix}${ARTIFACTS_OBJECT_STORE}`,
    cancelsBucket: `${prefix}${JOB_CANCELS_KV_BUCKET}`,
  };
}
