/** @module api/server
 *  The API server: `createApiServer` (HTTP + WebSocket on one port), schema building, logger, route extension point. */
export { createApiServer, type ApiServer, type ApiServerOptions } from "./create-api-server.ts";
export { buildApiSchema, type ResolverClasses } from "./schema.ts";
export { createLogger, silentLogger, isLogLevel, type Logger, type LogLevel } from "./logger.ts";
export type { HttpRouteDeps, HttpRouteMount } from "./http-routes.ts";
