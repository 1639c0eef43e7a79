/** @module api/ingest — the api's consumer of the job bus: event ingestion, dead letters, reconciler, cancellation relay, runner list, snapshot export. */
export { startIngest, envelopeOf, type Ingest, type IngestDeps, type RunnerInfo } from "./ingest.ts";
export { sharedNatsNames, JOB_CANCELS_KV_BUCKET, type SharedNatsNames } from "./nats-names.ts";
export { objectStoreSnapshotWriter } from "./snapshot-writer.ts";
