/** @module api/config
 *  The API process configuration, read from the environment once at start (docs/configuration.md lists every
 *  variable). Invalid values fail start-up with a ConfigError naming the variable. */
import { delimiter, resolve } from "node:path";
import { isStrictlyInside } from "./services/model-roots.ts";
import { DATASET_LIMITS, type DatasetLimits } from "../contracts/datasets/index.ts";
import { JOB_LIMITS, type JobLimits } from "../contracts/job-limits.ts";
import { isLogLevel, type LogLevel } from "./server/logger.ts";
import { BUS_MODES, type BusMode } from "../bus/create-bus.ts";
import { METRICS_TOKEN_MIN_LENGTH } from "./plugins/metrics/index.ts";

export class ConfigError extends Error {
  readonly code = "CONFIG_INVALID" as const;
  constructor(readonly variable: string, message: string) {
    super(`${variable}: ${message}`);
    this.name = "ConfigError";
  }
}

/** Request limits enforced by the server and its plugins. */
export interface ApiLimits {
  /** Largest accepted JSON body on /graphql and largest WebSocket message, in bytes. */
  bodyLimitBytes: number;
  /** Maximum selection depth of an operation. */
  maxDepth: number;
  /** Maximum cost (graphql-armor cost model: objects 2, scalars 1, × depth factor 1.5). */
  maxCost: number;
  /** Maximum aliases per operation. */
  maxAliases: number;
  /** Maximum lexical tokens per document. */
  maxTokens: number;
  /** Apollo `maxRecursiveSelections`: total selections after fragment expansion. */
  maxRecursiveSelections: number;
  /** Whether schema introspection is allowed (off when NODE_ENV=production unless PARM_INTROSPECTION=1). */
  introspection: boolean;
  /** Whether per-tenant mutation rate limiting (Tenant.mutationsPerMinute) is on. */
  rateLimit: boolean;
}

export const DEFAULT_LIMITS: ApiLimits = {
  bodyLimitBytes: 1024 * 1024,
  maxDepth: 12,
  maxCost: 5_000,
  maxAliases: 30,
  maxTokens: 5_000,
  maxRecursiveSelections: 2_000,
  introspection: true,
  rateLimit: true,
};

export interface ApiConfig {
  port: number;
  host: string;
  dataDir: string;
  /** Superuser/owner connection string; unset → embedded PostgreSQL under dataDir. */
  databaseUrl: string | undefined;
  /** Optional app-role connection string (otherwise derived by the database layer). */
  databaseAppUrl: string | undefined;
  /** NATS server; unset → the bus decides (local nats-server or in-process). */
  natsUrl: string | undefined;
  /** PARM_BUS: "auto" (default: NATS_URL, else a local nats-server, else in-process), "inprocess" (always the
   *  in-process bus, even with nats-server installed), "jetstream" (NATS_URL or a local nats-server, else fail). */
  bus: BusMode;
  /** Admin key from the environment; unset → generated on first start, its hash kept under dataDir. */
  adminKey: string | undefined;
  nodeEnv: string;
  logLevel: LogLevel;
  /** Built console to serve at `/`; served only when the folder exists. */
  staticDir: string;
  /** Folders whose files tenants may register as models by location (PARM_MODEL_ROOTS, default `./models`). */
  modelRoots: string[];
  /** Folders never readable through registration: the data dir and the runners' artifact cache. */
  modelRootExclusions: string[];
  /** Start one local CPU runner process beside the api (single-machine mode); PARM_EMBEDDED_RUNNER, default on. */
  embeddedRunner: boolean;
  limits: ApiLimits;
  /** Limits of one dataset upload (PARM_DATASET_MAX_*; contracts/datasets/limits.ts). */
  datasetLimits: DatasetLimits;
  /** Work one job may ask for (PARM_MAX_*; contracts/job-limits.ts). */
  jobLimits: JobLimits;
  metrics: MetricsConfig;
}

/** `/metrics` settings. */
export interface MetricsConfig {
  /** PARM_METRICS_TOKEN: when set, `/metrics` needs `Authorization: Bearer <token>` (else 401); unset → open. */
  token: string | undefined;
  /** PARM_METRICS_TENANT_LABELS: job metrics carry a `tenant` label (tenant id); default off. */
  tenantLabels: boolean;
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(name, `expected an integer in [${min}, ${max}], got ${JSON.stringify(raw)}`);
  }
  return value;
}

function bool(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError(name, `expected 1/0, true/false, yes/no or on/off, got ${JSON.stringify(raw)}`);
}

function url(env: NodeJS.ProcessEnv, name: string, protocols: string[]): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === "") return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(name, "not a URL");
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `expected a ${protocols.join(" or ")} URL, got ${parsed.protocol}`);
  }
  return raw;
}

function modelRootsConfig(policy: { roots: string[]; excluded: string[] }) {
  return { modelRoots: policy.roots, modelRootExclusions: policy.excluded };
}

/**
 * The model roots (PARM_MODEL_ROOTS: folders separated by `:`, each resolved against `cwd`; default `./models`) and
 * the folders excluded from them (the data dir and PARM_RUNNER_CACHE_DIR when set). A root equal to or inside an
 * excluded folder is a ConfigError; a root that contains one keeps the exclusion (model-roots.ts).
 */
export function loadModelRoots(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): { roots: string[]; excluded: string[] } {
  const dataDir = resolve(cwd, env.PARM_DATA_DIR || ".parm");
  const excluded = [dataDir, ...(env.PARM_RUNNER_CACHE_DIR ? [resolve(cwd, env.PARM_RUNNER_CACHE_DIR)] : [])];
  const raw = env.PARM_MODEL_ROOTS;
  const roots = (raw === undefined ? "models" : raw).split(delimiter).filter((entry) => entry !== "").map((entry) => resolve(cwd, entry));
  for (const root of roots) {
    const inside = excluded.find((folder) => root === folder || isStrictlyInside(root, folder));
    if (inside !== undefined) throw new ConfigError("PARM_MODEL_ROOTS", `${root} lies inside ${inside}, which holds the platform's own artifacts`);
  }
  return { roots, excluded };
}

/** The dataset upload limits, each from its variable (DATASET_LIMITS: name, default, bounds); ConfigError outside the bounds. */
export function loadDatasetLimits(env: NodeJS.ProcessEnv = process.env): DatasetLimits {
  const read = (key: keyof DatasetLimits): number => {
    const spec = DATASET_LIMITS[key];
    return integer(env, spec.env, spec.default, spec.min, spec.max);
  };
  return { maxDecompressedBytes: read("maxDecompressedBytes"), maxExpansionRatio: read("maxExpansionRatio"), maxLines: read("maxLines") };
}

/** Per-job work limits, each from its variable (JOB_LIMITS: name, default, bounds); ConfigError outside the bounds. */
export function loadJobLimits(env: NodeJS.ProcessEnv = process.env): JobLimits {
  const read = (key: keyof JobLimits): number => {
    const spec = JOB_LIMITS[key];
    return integer(env, spec.env, spec.default, spec.min, spec.max);
  };
  return {
    maxGridPoints: read("maxGridPoints"),
    maxEvaluationTokens: read("maxEvaluationTokens"),
    maxGenerationTokens: read("maxGenerationTokens"),
    maxTrainingPairPasses: read("maxTrainingPairPasses"),
  };
}

/** PARM_METRICS_TOKEN (at least METRICS_TOKEN_MIN_LENGTH characters, no white space) and PARM_METRICS_TENANT_LABELS. */
export function loadMetricsConfig(env: NodeJS.ProcessEnv = process.env): MetricsConfig {
  const token = env.PARM_METRICS_TOKEN || undefined;
  if (token !== undefined && (token.length < METRICS_TOKEN_MIN_LENGTH || /\s/.test(token))) {
    throw new ConfigError("PARM_METRICS_TOKEN", `must be at least ${METRICS_TOKEN_MIN_LENGTH} characters without white space`);
  }
  return { token, tenantLabels: bool(env, "PARM_METRICS_TENANT_LABELS", false) };
}

function busMode(env: NodeJS.ProcessEnv): BusMode {
  const raw = env.PARM_BUS || "auto";
  const mode = raw === "in-process" ? "inprocess" : raw;
  if (!(BUS_MODES as readonly string[]).includes(mode)) throw new ConfigError("PARM_BUS", `expected ${BUS_MODES.join("|")}, got ${raw}`);
  if (mode === "inprocess" && env.NATS_URL) throw new ConfigError("PARM_BUS", "inprocess contradicts NATS_URL; unset one of them");
  return mode as BusMode;
}

/** Reads the configuration from `env` (default process.env); relative paths resolve against `cwd`. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): ApiConfig {
  const nodeEnv = env.NODE_ENV ?? "development";
  const logLevel = env.PARM_LOG_LEVEL ?? "info";
  if (!isLogLevel(logLevel)) throw new ConfigError("PARM_LOG_LEVEL", `expected debug|info|warn|error|silent, got ${logLevel}`);
  const host = env.HOST || "127.0.0.1";
  const adminKey = env.PARM_ADMIN_KEY || undefined;
  if (adminKey !== undefined && adminKey.length < 24) {
    throw new ConfigError("PARM_ADMIN_KEY", "must be at least 24 characters");
  }
  return {
    port: integer(env, "PORT", 4000, 0, 65535),
    host,
    dataDir: resolve(cwd, env.PARM_DATA_DIR || ".parm"),
    databaseUrl: url(env, "DATABASE_URL", ["postgresql:", "postgres:"]),
    databaseAppUrl: url(env, "DATABASE_APP_URL", ["postgresql:", "postgres:"]),
    natsUrl: url(env, "NATS_URL", ["nats:", "tls:", "ws:", "wss:"]),
    bus: busMode(env),
    adminKey,
    nodeEnv,
    logLevel,
    staticDir: resolve(cwd, env.PARM_STATIC_DIR || "web/dist"),
    embeddedRunner: bool(env, "PARM_EMBEDDED_RUNNER", true),
    ...modelRootsConfig(loadModelRoots(env, cwd)),
    limits: {
      bodyLimitBytes: integer(env, "PARM_BODY_LIMIT_BYTES", DEFAULT_LIMITS.bodyLimitBytes, 1024, 1024 ** 3),
      maxDepth: integer(env, "PARM_MAX_DEPTH", DEFAULT_LIMITS.maxDepth, 2, 100),
      maxCost: integer(env, "PARM_MAX_COST", DEFAULT_LIMITS.maxCost, 10, 10_000_000),
      maxAliases: integer(env, "PARM_MAX_ALIASES", DEFAULT_LIMITS.maxAliases, 1, 10_000),
      maxTokens: integer(env, "PARM_MAX_TOKENS", DEFAULT_LIMITS.maxTokens, 100, 1_000_000),
      maxRecursiveSelections: integer(env, "PARM_MAX_RECURSIVE_SELECTIONS", DEFAULT_LIMITS.maxRecursiveSelections, 10, 10_000_000),
      introspection: bool(env, "PARM_INTROSPECTION", nodeEnv !== "production"),
      rateLimit: bool(env, "PARM_RATE_LIMIT", true),
    },
    datasetLimits: loadDatasetLimits(env),
    jobLimits: loadJobLimits(env),
    metrics: loadMetricsConfig(env),
  };
}
