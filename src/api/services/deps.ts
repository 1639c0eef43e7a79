/** @module api/services/deps
 *  What the domain services need from their caller: the tenant's scoped database client, the job publisher and
 *  a logger. Resolvers build it from the GraphQL context (`serviceDeps(ctx)`); the HTTP upload route from its
 *  authenticated request. */
import type { DatasetLimits, JobEnvelope, JobEvent } from "../../contracts/index.ts";
import type { TenantDb } from "../db/index.ts";
import type { ApiPubSub } from "../pubsub/index.ts";
import type { Logger } from "../server/logger.ts";
import type { ModelRoots } from "./model-roots.ts";
import type { JobLimits } from "../../contracts/job-limits.ts";

/** The methods of the job bus the services use (JobBus satisfies it). */
export interface JobPublisher {
  publishJob(envelope: JobEnvelope): Promise<unknown>;
  /** Used to announce the cancellation of a QUEUED job on its event stream (runners check it before starting). */
  publishEvent?(jobId: string, event: JobEvent): Promise<unknown>;
  /** Used to pass a RUNNING job's cancellation to its runner at once (ingestion's relay repeats it within a second). */
  readonly cancels?: { request(jobId: string): Promise<void> };
}

/**
 * Writes a dataset snapshot (JSON Lines of PreferenceRecord) where runners can read it and returns its location
 * (`obj://artifacts/<key>`) and sha256. Optional: without it, datasets live only in PostgreSQL and their
 * snapshot location is announced as `obj://artifacts/<key>` for a later export.
 */
export interface SnapshotWriter {
  putSnapshot(key: string, lines: AsyncIterable<Uint8Array>): Promise<{ location: string; sha256: string; sizeBytes: number }>;
  /** Deletes the snapshot at `location` (as `putSnapshot` returned it); a missing one counts as deleted. Returns
   *  false, deleting nothing, when `location` is not in this store. */
  deleteSnapshot(location: string): Promise<boolean>;
}

/** Stores an uploaded model file (already inspected, in a private local copy at `path`); returns the location
 *  runners read it from. The copy at `path` stays the caller's. With the NATS object store the store is the whole
 *  `artifacts` bucket, which also holds what runners write there (adapters, trained evaluators, checkpoints). */
export interface ModelFileStore {
  putModelFile(key: string, path: string): Promise<{ location: string }>;
  /** Deletes the file at `location` when it lies in this store (a location `putModelFile` returned, or with the
   *  object store any `obj://` location of its bucket); a missing file counts as deleted. Returns false, deleting
   *  nothing, for any other location — never a file registered by location under the model roots. */
  deleteModelFile(location: string): Promise<boolean>;
  /** Deletes every stored file whose key starts with `keyPrefix` (e.g. `adapters/<tenant>/<job>/`); returns how many. */
  deleteModelFiles(keyPrefix: string): Promise<number>;
}

/** What `ArtifactReader.statArtifact` knows of a stored file. */
export interface ArtifactStat {
  sizeBytes: number;
}

/**
 * Reads files the platform stored (downloads): uploads and dataset snapshots of the local stores (`file://` inside
 * their folder) and what runners wrote to the artifact store (`obj://artifacts/<key>`: adapters, trained
 * evaluators, checkpoints, evaluation reports). Both methods answer null for a missing file and for a location
 * outside the reader's stores: never a file registered by location under the model roots, nor any other host file.
 */
export interface ArtifactReader {
  statArtifact(location: string): Promise<ArtifactStat | null>;
  /** The file's bytes as a stream (read it to the end or break off: breaking off releases it). */
  openArtifact(location: string): Promise<AsyncIterable<Uint8Array> | null>;
}

export interface TenantServiceDeps {
  tenantId: string;
  db: TenantDb;
  bus: JobPublisher;
  log: Logger;
  snapshots?: SnapshotWriter;
  modelFiles?: ModelFileStore;
  /** Which host files may be registered by location; absent: registration by location is refused. */
  modelRoots?: ModelRoots;
  /** Limits of one dataset upload; absent: the contract's defaults (DEFAULT_DATASET_LIMITS). */
  datasetLimits?: DatasetLimits;
  /** Work one job may ask for (default: the contract's DEFAULT_JOB_LIMITS); submit refuses more (LimitExceeded). */
  jobLimits?: JobLimits;
  /** GraphQL pub/sub: cancelJob publishes the end of a QUEUED job's streams. */
  pubSub?: ApiPubSub;
}
