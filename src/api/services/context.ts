/** @module api/services/context
 *  Builds the services' dependencies from a GraphQL (or HTTP route) context, and declares the long-lived
 *  services this module adds to `ApiServices` (built once per server by `domainServiceFactory`). */
import { requireAuthenticated, requireTenant, type ApiContext, type ServiceFactory } from "../context.ts";
import type { TenantDb } from "../db/index.ts";
import type { ArtifactReader, ModelFileStore, SnapshotWriter, TenantServiceDeps } from "./deps.ts";
import { join, resolve } from "node:path";
import { createLocalModelFileStore, createLocalSnapshotWriter } from "./model-store.ts";
import { localArtifactReader } from "./artifact-reader.ts";
import type { DatasetLimits } from "../../contracts/index.ts";
import { loadDatasetLimits, loadJobLimits } from "../config.ts";
import type { JobLimits } from "../../contracts/job-limits.ts";
import { ModelRoots } from "./model-roots.ts";
import { loadModelRoots } from "../config.ts";

declare module "../context.ts" {
  interface ApiServices {
    /** Where inline model uploads are stored (default: `<PARM_DATA_DIR>/models`). */
    modelFiles?: ModelFileStore;
    /** Which host files tenants may register by location (default: PARM_MODEL_ROOTS, see config.ts). */
    modelRoots?: ModelRoots;
    /** Where accepted datasets are exported for runners (default: `<PARM_DATA_DIR>/datasets`); absent: datasets
     *  stay in PostgreSQL only and job payloads announce `obj://artifacts/<key>` for a later export. */
    datasetSnapshots?: SnapshotWriter;
    /** Where downloads read the local stores' files (default: the uploads under `<PARM_DATA_DIR>/models`). The
     *  download routes also read the server bus's artifact store (`bus.artifacts`) for `obj://artifacts/…`. */
    artifactReader?: ArtifactReader;
    /** Limits of one dataset upload (default: the contract's; datasetLimitsServiceFactory reads PARM_DATASET_MAX_*). */
    datasetLimits?: DatasetLimits;
    /** Work one job may ask for (default: the contract's; jobLimitsServiceFactory reads PARM_MAX_*). */
    jobLimits?: JobLimits;
  }
}

/** The caller's tenant dependencies; throws UNAUTHENTICATED / FORBIDDEN (admin) like `requireTenant`. */
export function serviceDeps(ctx: ApiContext): TenantServiceDeps {
  const auth = requireTenant(ctx);
  return {
    tenantId: auth.tenantId,
    db: ctx.tenantDb(),
    bus: ctx.bus,
    log: ctx.log,
    pubSub: ctx.pubSub,
    modelFiles: ctx.services.modelFiles,
    modelRoots: ctx.services.modelRoots,
    snapshots: ctx.services.datasetSnapshots,
    datasetLimits: ctx.services.datasetLimits,
    jobLimits: ctx.services.jobLimits,
  };
}

/**
 * The client for field resolvers of rows the caller already holds: the tenant's scoped client, or for the
 * platform admin (who may read any node) the system client. Never used to choose which rows to list.
 */
export function readDb(ctx: ApiContext): TenantDb {
  const auth = requireAuthenticated(ctx);
  return auth.kind === "admin" ? (ctx.db.system as unknown as TenantDb) : ctx.tenantDb();
}

/** Local artifact stores under `dataDir` (models/, datasets/), and the reader of the uploads (downloads). */
export function localArtifactServiceFactory(dataDir: string): ServiceFactory {
  const root = resolve(dataDir);
  return () => ({
    modelFiles: createLocalModelFileStore(join(root, "models")),
    datasetSnapshots: createLocalSnapshotWriter(join(root, "datasets")),
    artifactReader: localArtifactReader(join(root, "models")),
  });
}

/** Registers the domain's long-lived services (resolvers/index.ts `serviceFactories`): local stores under
 *  PARM_DATA_DIR (default ./.parm) and the model roots (PARM_MODEL_ROOTS), read when the server starts. */
export const domainServiceFactory: ServiceFactory = (deps) => ({
  ...localArtifactServiceFactory(process.env.PARM_DATA_DIR || ".parm")(deps),
  modelRoots: new ModelRoots(loadModelRoots()),
});

/** Registers the dataset upload limits (resolvers/index.ts `serviceFactories`), read from PARM_DATASET_MAX_* when
 *  the server starts; an invalid value throws ConfigError naming the variable. */
export const datasetLimitsServiceFactory: ServiceFactory = () => ({ datasetLimits: loadDatasetLimits(process.env) });

/** Registers the per-job work limits (resolvers/index.ts `serviceFactories`), read from PARM_MAX_* when the server
 *  starts; an invalid value throws ConfigError naming the variable. */
export const jobLimitsServiceFactory: ServiceFactory = () => ({ jobLimits: loadJobLimits(process.env) });
