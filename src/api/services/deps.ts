/** @module api/services/deps
 *  What the domain services need from their caller: the tenant's scoped database client, the job publisher and
 *  a logger. Resolvers build it from the GraphQL context (`serviceDeps(ctx)`); the HTTP upload route from its
 *  authenticated request. */
import type { JobEnvelope, JobEvent } from "../../contracts/index.ts";
import type { TenantDb } from "../db/index.ts";
import type { ApiPubSub } from "../pubsub/index.ts";
import type { Logger } from "../server/logger.ts";

/** The methods of the job bus the services use (JobBus satisfies it). */
export interface JobPublisher {
  publishJob(envelope: JobEnvelope): Promise<unknown>;
  /** Used to announce the cancellation of a QUEUED job on its event stream (runners check it before starting). */
  publishEvent?(jobId: string, event: JobEvent): Promise<unknown>;
}

/**
 * Writes a dataset snapshot (JSON Lines of PreferenceRecord) where runners can read it and returns its location
 * (`obj://artifacts/<key>`) and sha256. Optional: without it, datasets live only in PostgreSQL and their
 * snapshot location is announced as `obj://artifacts/<key>` for a later export.
 */
export interface SnapshotWriter {
  putSnapshot(key: string, lines: AsyncIterable<Uint8Array>): Promise<{ location: string; sha256: string; sizeBytes: number }>;
}

/** Stores a model file sent inline; returns the location runners read it from. */
export interface ModelFileStore {
  putModelFile(key: string, bytes: Uint8Array): Promise<{ location: string }>;
}

export interface TenantServiceDeps {
  tenantId: string;
  db: TenantDb;
  bus: JobPublisher;
  log: Logger;
  snapshots?: SnapshotWriter;
  modelFiles?: ModelFileStore;
  /** GraphQL pub/sub: cancelJob publishes the end of a QUEUED job's streams. */
  pubSub?: ApiPubSub;
}
