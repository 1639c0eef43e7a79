/** @module api/plugins/metrics
 *  Prometheus metrics of the API on a registry per server (`parm_` prefix, OpenTelemetry GenAI names where they
 *  exist, base units, `_total` counters, bounded labels only; docs/operations.md lists them). Served at `/metrics`.
 *  `jobs` (job-metrics.ts) is fed by event ingestion; `registerStateMetrics` (state-metrics.ts) adds gauges read at
 *  scrape time. Other modules register their own metrics on `metrics.registry`. */
import { createHash, timingSafeEqual } from "node:crypto";
import type { ApolloServerPlugin } from "@apollo/server";
import type { NextFunction, Request, Response } from "express";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { ApiContext } from "../../context.ts";
import { createJobMetrics, type JobMetrics } from "./job-metrics.ts";

export { createJobMetrics, generationMethod, GENERATION_METHODS, MAX_TRACKED_JOBS } from "./job-metrics.ts";
export type { GenerationMethod, JobEventObservation, JobEventObserver, JobMetrics, ObservedJob } from "./job-metrics.ts";
export { registerStateMetrics, type StateMetricsDeps } from "./state-metrics.ts";

export interface ApiMetrics {
  registry: Registry;
  httpRequests: Counter<"method" | "route" | "status">;
  httpDuration: Histogram<"route">;
  graphqlOperations: Counter<"type" | "transport" | "outcome">;
  graphqlDuration: Histogram<"type" | "transport">;
  rateLimited: Counter;
  wsConnections: Gauge;
  /** Job and generation metrics fed by event ingestion (pass `metrics.jobs` to startIngest). */
  jobs: JobMetrics;
  /** Whether job metrics carry a `tenant` label (PARM_METRICS_TENANT_LABELS). */
  tenantLabels: boolean;
  /** Express middleware counting requests; `route` is the matched route pattern or a fixed bucket. */
  httpMiddleware(): (req: Request, res: Response, next: NextFunction) => void;
  /** Apollo plugin counting HTTP GraphQL operations. */
  apolloPlugin(): ApolloServerPlugin<ApiContext>;
}

const KNOWN_ROUTES = new Set(["/graphql", "/healthz", "/readyz", "/metrics"]);

export interface ApiMetricsOptions {
  /** Collect Node.js process metrics (default true). */
  defaultMetrics?: boolean;
  /** Give job metrics a `tenant` label (default false: tenant ids are unbounded). */
  tenantLabels?: boolean;
}

export function createApiMetrics(options: ApiMetricsOptions = {}): ApiMetrics {
  const registry = new Registry();
  const tenantLabels = options.tenantLabels ?? false;
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: "parm_api_" });
  const httpRequests = new Counter({
    name: "parm_http_requests_total",
    help: "HTTP requests by method, route pattern and status.",
    labelNames: ["method", "route", "status"] as const,
    registers: [registry],
  });
  const httpDuration = new Histogram({
    name: "parm_http_request_duration_seconds",
    help: "HTTP request duration by route pattern.",
    labelNames: ["route"] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const graphqlOperations = new Counter({
    name: "parm_graphql_operations_total",
    help: "GraphQL operations by type (query, mutation, subscription, unknown), transport and outcome (ok, error).",
    labelNames: ["type", "transport", "outcome"] as const,
    registers: [registry],
  });
  const graphqlDuration = new Histogram({
    name: "parm_graphql_operation_duration_seconds",
    help: "GraphQL operation execution time (subscriptions: until the first result).",
    labelNames: ["type", "transport"] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const rateLimited = new Counter({
    name: "parm_rate_limited_total",
    help: "Mutation operations refused by the per-tenant rate limit.",
    registers: [registry],
  });
  const wsConnections = new Gauge({
    name: "parm_ws_connections",
    help: "Open GraphQL WebSocket connections.",
    registers: [registry],
  });

  return {
    registry,
    httpRequests,
    httpDuration,
    graphqlOperations,
    graphqlDuration,
    rateLimited,
    wsConnections,
    jobs: createJobMetrics(registry, { tenantLabels }),
    tenantLabels,
    httpMiddleware() {
      return (req, res, next) => {
        const end = httpDuration.startTimer();
        res.on("finish", () => {
          const pattern = (req.route as { path?: unknown } | undefined)?.path;
          const path = (req.originalUrl.split("?")[0] ?? "").replace(/\/+$/, "") || "/";
          const route =
            typeof pattern === "string"
              ? `${req.baseUrl}${pattern}`
              : KNOWN_ROUTES.has(path)
                ? path
                : req.method === "GET" ? "static" : "other";
          httpRequests.inc({ method: req.method, route, status: String(res.statusCode) });
          end({ route });
        });
        next();
      };
    },
    apolloPlugin() {
      return {
        async requestDidStart() {
          const started = process.hrtime.bigint();
          let type = "unknown";
          return {
            async didResolveOperation({ operation }) {
              type = operation?.operation ?? "unknown";
            },
            async willSendResponse({ response }) {
              const body = response.body;
              const errors = body.kind === "single" ? body.singleResult.errors : body.initialResult.errors;
              graphqlOperations.inc({ type, transport: "http", outcome: errors?.length ? "error" : "ok" });
              graphqlDuration.observe({ type, transport: "http" }, Number(process.hrtime.bigint() - started) / 1e9);
            },
          };
        },
      };
    },
  };
}

/** Shortest accepted `/metrics` bearer token (PARM_METRICS_TOKEN). */
export const METRICS_TOKEN_MIN_LENGTH = 16;

/**
 * Guards `/metrics` with `Authorization: Bearer <token>` when `token` is set (PARM_METRICS_TOKEN): a missing or
 * different token gets 401 with `WWW-Authenticate: Bearer realm="metrics"`. Without a token every request passes.
 * The comparison is constant-time over sha256 digests.
 */
export function metricsAuth(token: string | undefined): (req: Request, res: Response, next: NextFunction) => void {
  if (token === undefined) return (_req, _res, next) => next();
  const expected = createHash("sha256").update(token, "utf8").digest();
  return (req, res, next) => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
    const given = createHash("sha256").update(match?.[1] ?? "", "utf8").digest();
    if (match && timingSafeEqual(given, expected)) return next();
    res.setHeader("www-authenticate", 'Bearer realm="metrics"');
    res.status(401).json({ errors: [{ message: "/metrics needs Authorization: Bearer <PARM_METRICS_TOKEN>", extensions: { code: "UNAUTHENTICATED" } }] });
  };
}
