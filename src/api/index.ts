/** @module api
 *  Public surface of the API package: the server factory, configuration, context and guards, auth helpers,
 *  errors, pub/sub, and the resolver registry other modules extend. */
export { createApiServer, createLogger, silentLogger, type ApiServer, type ApiServerOptions, type Logger, type HttpRouteMount, type HttpRouteDeps } from "./server/index.ts";
export { loadConfig, DEFAULT_LIMITS, ConfigError, type ApiConfig, type ApiLimits } from "./config.ts";
export {
  createContext,
  requireAuthenticated,
  requireTenant,
  requireTenantAdmin,
  requireAdmin,
  type ApiContext,
  type ApiServices,
  type AuthState,
  type TenantAuth,
  type AdminAuth,
  type AnonymousAuth,
  type TenantRole,
  type ServiceDeps,
  type ServiceFactory,
} from "./context.ts";
export * from "./errors/index.ts";
export { createApiPubSub, Topics, type ApiPubSub } from "./pubsub/index.ts";
export { resolvers, nodeTypes, httpRoutes, serviceFactories } from "./resolvers/index.ts";
