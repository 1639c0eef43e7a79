/** @module api/ingest — the api's consumer of the job bus: event ingestion, dead letters, reconciler, cancellation relay, runner list, snapshot export. */
export { startIngest, envelopeOf, type Ingest, type IngestDeps } from "./ingest.ts";
export { sharedNatsNames, JOB_CANCELS_KV_BUCKET, type SharedNatsNames } from "./nats-names.ts";
export { busArtifactServices, objectStoreModelFileStore, objectStoreSnapshotWriter } from "./snapshot-writer.ts";
export { createRunnerRegistry, readRunnerHeartbeats, type RunnerInfo, type RunnerRegistry } from "./runner-registry.ts";
// The admin `runners` query (type-graphql, needs reflect-metadata) is imported from "./runners-resolver.ts" directly.
