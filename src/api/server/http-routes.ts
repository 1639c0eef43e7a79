/** @module api/server/http-routes
 *  The extension point for plain HTTP routes beside /graphql (e.g. streaming uploads). A mount function receives
 *  the express app and the server's dependencies; routes are mounted before the GraphQL endpoint and the static
 *  console, and have no JSON body parser applied (they read the request stream themselves). Authenticate with
 *  `deps.contextFor(req)`, which throws UnauthenticatedError (map it with `deps.sendError`). */
import type { Express, Request, Response } from "express";
import type { ApiLimits } from "../config.ts";
import type { ApiContext, AuthState } from "../context.ts";
import type { Database } from "../db/index.ts";
import type { JobBus } from "../../bus/index.ts";
import type { ApiPubSub } from "../pubsub/index.ts";
import type { ApiServices } from "../context.ts";
import type { ApiMetrics } from "../plugins/metrics/index.ts";
import type { Logger } from "./logger.ts";

export interface HttpRouteDeps {
  db: Database;
  bus: JobBus;
  pubSub: ApiPubSub;
  services: ApiServices;
  limits: ApiLimits;
  metrics: ApiMetrics;
  log: Logger;
  /** Authenticates the request's Authorization header (anonymous when absent). */
  authenticate(req: Request): Promise<AuthState>;
  /** A full ApiContext for the request (transport "http"); use the guards (`requireTenant`…) on it. */
  contextFor(req: Request): Promise<ApiContext>;
  /** Sends `error` as a GraphQL-shaped JSON error body with the status its code implies (401, 403, 429, 400, 500). */
  sendError(res: Response, error: unknown): void;
  /** Spends `cost` (default 1) from the caller tenant's mutation rate limit (`Tenant.mutationsPerMinute`, the
   *  bucket GraphQL mutations use); throws RateLimitedError (429, `retryAfter`) when short. A no-op for the admin,
   *  anonymous callers, and when rate limiting is off. Routes that start work call it once per request. */
  rateLimit(ctx: ApiContext, cost?: number): void;
}

export type HttpRouteMount = (app: Express, deps: HttpRouteDeps) => void;
