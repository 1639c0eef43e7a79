/** @module api/server/create-api-server
 *  The API process's network face on ONE port: express 5 with Apollo Server 5 at POST/GET `/graphql`, graphql-ws
 *  (sub-protocol graphql-transport-ws) on the same path, `/healthz` (process up), `/readyz` (database and bus
 *  answer), `/metrics` (Prometheus; behind a bearer token when `metricsToken` is set), extra routes from the
 *  registry, and the built console (console-static.ts: hashed assets cached for a year, index.html no-cache with a
 *  Content-Security-Policy, SPA fallback) when its folder exists.
 *
 *  Authentication: HTTP reads `Authorization: Bearer <key>` per request (absent → anonymous; malformed, unknown or
 *  revoked → 401 UNAUTHENTICATED before execution). WebSocket reads `{ authorization: "Bearer …" }` from the
 *  `connection_init` payload once per socket: absent or invalid → close 4401; a tenant key revoked while the socket
 *  is open → close 4403 within a second (live-sockets.ts: at once when revoked through this process, else by a
 *  periodic re-check), and at the latest at the next subscribe. Each operation gets its own context (request id,
 *  DataLoaders) built on the socket's authentication.
 *  Limits (plugins/): JSON body size (413), depth/cost/aliases/tokens/recursive selections (depth counts
 *  introspection too), introspection off in production and refused to anonymous callers (401), and the per-tenant
 *  mutation rate limit — applied on both transports. */
import "reflect-metadata";
import { randomUUID, createHash } from "node:crypto";
import { createServer, type Server } from "node:http";
import { resolve } from "node:path";
import { ApolloServer } from "@apollo/server";
import { ApolloServerPluginDrainHttpServer } from "@apollo/server/plugin/drainHttpServer";
import { ApolloServerPluginLandingPageDisabled } from "@apollo/server/plugin/disabled";
import { expressMiddleware } from "@as-integrations/express5";
import express, { type Request, type Response } from "express";
import {
  GraphQLError,
  Kind,
  getOperationAST,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
} from "graphql";
import type { Context, SubscribePayload } from "graphql-ws";
import { useServer, type Extra } from "graphql-ws/use/ws";
import { WebSocketServer, type WebSocket } from "ws";
import { coalesceWrites } from "./socket-writes.ts";
import type { JobBus } from "../../bus/index.ts";
import { createAuthenticator, type Authenticator } from "../auth/index.ts";
import { DEFAULT_LIMITS, type ApiLimits } from "../config.ts";
import {
  createContext,
  type ApiContext,
  type ApiServices,
  type AuthState,
  type ContextDeps,
  type ServiceFactory,
} from "../context.ts";
import type { Database } from "../db/index.ts";
import { ErrorCode, UnauthenticatedError, toGraphQLError } from "../errors/index.ts";
import { bodyErrorHandler, jsonBodyParser } from "../plugins/body-limit/index.ts";
import { createErrorFormatter, formatForClient } from "../plugins/error-format/index.ts";
import { introspectionAuthPlugin } from "../plugins/introspection-auth/index.ts";
import { createApiMetrics, metricsAuth, registerStateMetrics, type ApiMetrics } from "../plugins/metrics/index.ts";
import { TOKEN_LIMIT_MESSAGE, createQueryLimits, type QueryLimits } from "../plugins/query-limits/index.ts";
import { TokenBucketLimiter, enforceMutationRate, enforceTenantRate, rateLimitPlugin } from "../plugins/rate-limit/index.ts";
import { createApiPubSub, type ApiPubSub } from "../pubsub/index.ts";
import {
  httpRoutes as registeredRoutes,
  resolvers as registeredResolvers,
  serviceFactories as registeredServiceFactories,
} from "../resolvers/index.ts";
import type { HttpRouteDeps, HttpRouteMount } from "./http-routes.ts";
import { mountConsole } from "./console-static.ts";
import { CLOSE_FORBIDDEN, createLiveSockets, type LiveSockets } from "./live-sockets.ts";
import { silentLogger, type Logger } from "./logger.ts";
import { buildApiSchema, type ResolverClasses } from "./schema.ts";

export interface ApiServerOptions {
  db: Database;
  bus: JobBus;
  /** The platform admin key (hashed at once), or give `adminKeyHash`. */
  adminKey?: string;
  /** Hex sha256 of the admin key. */
  adminKeyHash?: string;
  log?: Logger;
  /** Overrides of DEFAULT_LIMITS. */
  limits?: Partial<ApiLimits>;
  /** Built console folder; served when it contains index.html. */
  staticDir?: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (a free port). */
  port?: number;
  pubSub?: ApiPubSub;
  /** Builders of the long-lived services (ApiServices), run once, results merged. Default: the registry in
   *  resolvers/index.ts. */
  serviceFactories?: readonly ServiceFactory[];
  /** Default: the registry in resolvers/index.ts. */
  resolvers?: ResolverClasses;
  /** Default: the registry in resolvers/index.ts. */
  httpRoutes?: readonly HttpRouteMount[];
  /** Collect Node.js process metrics (default true; only when `metrics` is not given). */
  defaultMetrics?: boolean;
  /** The metrics to serve, when made before the server (to hand `metrics.jobs` to startIngest); default: new ones
   *  (createApiMetrics with `defaultMetrics`). The server adds the scrape-time gauges (state-metrics.ts) to it. */
  metrics?: ApiMetrics;
  /** PARM_METRICS_TOKEN: `/metrics` needs `Authorization: Bearer <token>`; unset → open. */
  metricsToken?: string;
  /** How often open sockets' keys are re-checked for revocation by any process, in ms (default 500; 0: off). */
  revocationRecheckMs?: number;
}

export interface ApiServer {
  httpServer: Server;
  /** Base URL, e.g. http://127.0.0.1:4000 */
  url: string;
  /** `${url}/graphql` */
  graphqlUrl: string;
  /** ws://…/graphql */
  wsUrl: string;
  schema: GraphQLSchema;
  pubSub: ApiPubSub;
  metrics: ApiMetrics;
  services: ApiServices;
  /** Stops accepting, closes sockets (subscriptions complete), drains HTTP, then calls `close()` on every service
   *  that has one. Does not close db or bus. */
  stop(): Promise<void>;
}

const REQUEST_ID = /^[A-Za-z0-9._-]{8,64}$/;

function statusFor(error: GraphQLError): number {
  const http = error.extensions?.http as { status?: number } | undefined;
  if (http?.status) return http.status;
  switch (error.extensions?.code) {
    case ErrorCode.UNAUTHENTICATED:
      return 401;
    case ErrorCode.FORBIDDEN:
      return 403;
    case ErrorCode.RATE_LIMITED:
      return 429;
    case ErrorCode.PAYLOAD_TOO_LARGE:
      return 413;
    case ErrorCode.INTERNAL_SERVER_ERROR:
      return 500;
    default:
      return 400;
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** What the transports share, built once by createApiServer. */
interface ServerParts {
  readonly options: ApiServerOptions;
  readonly log: Logger;
  readonly limits: ApiLimits;
  readonly db: Database;
  readonly bus: JobBus;
  readonly pubSub: ApiPubSub;
  readonly metrics: ApiMetrics;
  readonly services: ApiServices;
  readonly liveSockets: LiveSockets;
  readonly contextDeps: ContextDeps;
  readonly authenticator: Authenticator;
  readonly schema: GraphQLSchema;
  readonly queryLimits: QueryLimits;
  readonly limiter: TokenBucketLimiter;
  readonly onLimited: () => void;
  readonly formatError: ReturnType<typeof createErrorFormatter>;
}

/** A graphql-ws connection's context on the `ws` server. */
type WsContext = Context<Record<string, unknown> | undefined, Extra & Partial<Record<PropertyKey, never>>>;

/** graphql-ws on `/graphql` of `httpServer` (authentication once per socket, limits per operation). */
function serveGraphqlWs(httpServer: Server, parts: ServerParts) {
  const { limits, metrics, schema, formatError } = parts;
  const wsServer = new WebSocketServer({ server: httpServer, path: "/graphql", maxPayload: limits.bodyLimitBytes });
  wsServer.on("connection", (socket) => coalesceWrites(socket));
  const socketAuth = new WeakMap<WebSocket, AuthState>();
  const wsHandle = useServer(
    {
      schema,
      onConnect: (ctx) => authenticateSocket(parts, socketAuth, ctx),
      onDisconnect: () => {
        metrics.wsConnections.dec();
      },
      onSubscribe: (ctx, id, payload) => subscriptionArgs(parts, socketAuth, ctx, id, payload),
      onError: (_ctx, _id, _payload, errors) => errors.map((e) => formatForClient(formatError, e)),
      onNext: (_ctx, _id, _payload, _args, result) => {
        if (!result.errors?.length) return;
        return { ...result, errors: result.errors.map((e) => formatForClient(formatError, e)) };
      },
    },
    wsServer,
  );
  return { wsServer, wsHandle };
}

/** `connection_init`: the socket's key, once; a socket without a valid one is closed with 4401. */
async function authenticateSocket(parts: ServerParts, socketAuth: WeakMap<WebSocket, AuthState>, ctx: WsContext): Promise<boolean> {
  const { authenticator, log, liveSockets, metrics } = parts;
  const params = ctx.connectionParams ?? {};
  const header = params.authorization ?? params.Authorization;
  let auth: AuthState;
  try {
    auth = await authenticator.authenticate(typeof header === "string" ? header : undefined);
    if (auth.kind === "anonymous") throw new UnauthenticatedError();
  } catch (error) {
    const reason = error instanceof UnauthenticatedError ? error.message : "authentication failed";
    if (!(error instanceof UnauthenticatedError)) log.error("websocket authentication failed", { error });
    ctx.extra.socket.close(4401, `Unauthorized: ${reason}`.slice(0, 120));
    return false;
  }
  socketAuth.set(ctx.extra.socket, auth);
  if (auth.kind === "tenant") liveSockets.track(auth.keyId, ctx.extra.socket);
  metrics.wsConnections.inc();
  return true;
}

/** One subscribe: the key still valid, the document parsed and validated within the limits, the rate limit. */
async function subscriptionArgs(parts: ServerParts, socketAuth: WeakMap<WebSocket, AuthState>, ctx: WsContext, _id: string, payload: SubscribePayload) {
  const { authenticator, queryLimits, schema, metrics, contextDeps, limits, limiter, onLimited } = parts;
  const auth = socketAuth.get(ctx.extra.socket);
  if (!auth) return [new UnauthenticatedError()];
  if (!(await authenticator.isStillValid(auth))) {
    ctx.extra.socket.close(CLOSE_FORBIDDEN, "Forbidden: API key revoked");
    return [new UnauthenticatedError("API key revoked")];
  }
  let document: DocumentNode;
  try {
    document = parse(payload.query, queryLimits.parseOptions);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const tooLarge = TOKEN_LIMIT_MESSAGE.test(message);
    return [
      new GraphQLError(message, {
        extensions: { code: tooLarge ? ErrorCode.QUERY_TOO_LARGE : "GRAPHQL_PARSE_FAILED" },
      }),
    ];
  }
  const errors = validate(schema, document, [...specifiedRules, ...queryLimits.validationRules]);
  if (errors.length > 0) {
    metrics.graphqlOperations.inc({ type: "unknown", transport: "ws", outcome: "error" });
    return errors.map(
      (e) =>
        new GraphQLError(e.message, {
          nodes: e.nodes,
          extensions: { code: (e.extensions?.limitCode as string | undefined) ?? "GRAPHQL_VALIDATION_FAILED" },
        }),
    );
  }
  const operation = getOperationAST(document, payload.operationName ?? undefined);
  if (!operation) {
    return [new GraphQLError("no operation (or an ambiguous one) to execute", { extensions: { code: "BAD_REQUEST" } })];
  }
  const contextValue = createContext(contextDeps, auth, randomUUID(), "ws");
  if (limits.rateLimit) {
    const fragments: Record<string, FragmentDefinitionNode> = {};
    for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments[d.name.value] = d;
    try {
      enforceMutationRate(limiter, contextValue, operation, fragments, onLimited);
    } catch (error) {
      return [toGraphQLError(error)];
    }
  }
  metrics.graphqlOperations.inc({ type: operation.operation, transport: "ws", outcome: "ok" });
  return {
    schema,
    document,
    operationName: payload.operationName ?? undefined,
    variableValues: payload.variables ?? undefined,
    contextValue,
  };
}

/** Apollo Server for HTTP GraphQL; draining it also disposes the WebSocket server. */
async function startApollo(httpServer: Server, parts: ServerParts, disposeWs: () => Promise<void> | void): Promise<ApolloServer<ApiContext>> {
  const { schema, limits, queryLimits, formatError, metrics, limiter, onLimited } = parts;
  const apollo = new ApolloServer<ApiContext>({
    schema,
    introspection: limits.introspection,
    maxRecursiveSelections: limits.maxRecursiveSelections,
    parseOptions: queryLimits.parseOptions,
    validationRules: queryLimits.validationRules,
    allowBatchedHttpRequests: false,
    includeStacktraceInErrorResponses: false,
    formatError,
    stopOnTerminationSignals: false,
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer, stopGracePeriodMillis: 5_000 }),
      ApolloServerPluginLandingPageDisabled(),
      {
        async serverWillStart() {
          return {
            async drainServer() {
              await disposeWs();
            },
          };
        },
      },
      ...queryLimits.apolloPlugins,
      introspectionAuthPlugin(),
      metrics.apolloPlugin(),
      ...(limits.rateLimit ? [rateLimitPlugin(limiter, onLimited)] : []),
    ],
  });
  await apollo.start();
  return apollo;
}

/** Request ids, request metrics, `/healthz`, `/readyz` (database and bus answer) and `/metrics`. */
function mountProbes(app: express.Express, parts: ServerParts): void {
  const { metrics, db, bus, options } = parts;
  app.use((req, res, next) => {
    const incoming = req.header("x-request-id");
    res.locals.requestId = incoming && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.setHeader("x-request-id", res.locals.requestId as string);
    next();
  });
  app.use(metrics.httpMiddleware());

  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  app.get("/readyz", async (_req, res) => {
    const checks: Record<string, string> = {};
    await Promise.all([
      withTimeout(db.system.$queryRaw`SELECT 1`, 3_000, "database")
        .then(() => void (checks.database = "ok"))
        .catch((e: unknown) => void (checks.database = `error: ${e instanceof Error ? e.message : String(e)}`)),
      withTimeout(bus.queueDepth("train"), 3_000, "bus")
        .then(() => void (checks.bus = "ok"))
        .catch((e: unknown) => void (checks.bus = `error: ${e instanceof Error ? e.message : String(e)}`)),
    ]);
    const ready = Object.values(checks).every((v) => v === "ok");
    res.status(ready ? 200 : 503).json({ status: ready ? "ready" : "unavailable", checks, bus: bus.kind });
  });
  app.get("/metrics", metricsAuth(options.metricsToken), async (_req, res) => {
    res.setHeader("content-type", metrics.registry.contentType);
    res.send(await metrics.registry.metrics());
  });
}

/** The registry's routes, GraphQL over HTTP, the console, and the 404 / 500 answers. */
function mountGraphqlHttp(app: express.Express, apollo: ApolloServer<ApiContext>, parts: ServerParts): void {
  const { authenticator, contextDeps, formatError, db, bus, pubSub, services, limits, metrics, log, limiter, onLimited, options } = parts;
  const requestContext = async (req: Request, res: Response): Promise<ApiContext> => {
    const auth = await authenticator.authenticate(req.headers.authorization);
    return createContext(contextDeps, auth, (res.locals.requestId as string | undefined) ?? randomUUID(), "http");
  };
  const sendError = (res: Response, thrown: unknown) => {
    const error = toGraphQLError(thrown);
    const status = statusFor(error);
    const http = error.extensions?.http as { headers?: Map<string, string> } | undefined;
    for (const [k, v] of http?.headers ?? []) res.setHeader(k, v);
    const formatted = formatForClient(formatError, error);
    res.status(status).json({ errors: [formatted] });
  };
  const routeDeps: HttpRouteDeps = {
    db,
    bus,
    pubSub,
    services,
    limits,
    metrics,
    log,
    authenticate: (req) => authenticator.authenticate(req.headers.authorization),
    contextFor: (req) => requestContext(req, req.res as Response),
    sendError,
    rateLimit: (ctx, cost = 1) => {
      if (limits.rateLimit) enforceTenantRate(limiter, ctx, cost, onLimited);
    },
  };
  for (const mount of options.httpRoutes ?? registeredRoutes) mount(app, routeDeps);

  app.use(
    "/graphql",
    jsonBodyParser(limits.bodyLimitBytes),
    expressMiddleware(apollo, { context: ({ req, res }) => requestContext(req, res) }),
  );
  app.use(bodyErrorHandler(limits.bodyLimitBytes));

  if (mountConsole(app, options.staticDir)) log.info("serving the console", { staticDir: resolve(options.staticDir!) });
  app.use((_req, res) => {
    res.status(404).json({ errors: [{ message: "not found", extensions: { code: "NOT_FOUND" } }] });
  });
  app.use((error: unknown, _req: Request, res: Response, _next: express.NextFunction) => {
    log.error("unhandled HTTP error", { error: error instanceof Error ? error : new Error(String(error)) });
    if (res.headersSent) return;
    res.status(500).json({ errors: [{ message: "internal server error", extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } }] });
  });
}

/** Calls `close()` on every service that has one, logging (not throwing) failures. */
async function closeServices(services: ApiServices, log: Logger): Promise<void> {
  for (const [name, service] of Object.entries(services as Record<string, unknown>)) {
    const close = (service as { close?: unknown } | null)?.close;
    if (typeof close === "function") {
      await Promise.resolve(close.call(service)).catch((error: unknown) =>
        log.error("service close failed", { service: name, error: error instanceof Error ? error : new Error(String(error)) }),
      );
    }
  }
}

function listen(httpServer: Server, host: string, port: number): Promise<void> {
  return new Promise<void>((resolvePromise, reject) => {
    httpServer.once("error", reject);
    httpServer.listen(port, host, () => {
      httpServer.off("error", reject);
      resolvePromise();
    });
  });
}

export async function createApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const log = options.log ?? silentLogger;
  const limits: ApiLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const { db, bus } = options;
  const adminKeyHash =
    options.adminKeyHash ?? (options.adminKey !== undefined ? createHash("sha256").update(options.adminKey, "utf8").digest("hex") : undefined);
  if (adminKeyHash === undefined) throw new TypeError("createApiServer: adminKey or adminKeyHash is required");
  const pubSub = options.pubSub ?? createApiPubSub();
  const metrics = options.metrics ?? createApiMetrics({ defaultMetrics: options.defaultMetrics ?? true });
  registerStateMetrics(metrics.registry, { db, bus, log, tenantLabels: metrics.tenantLabels });
  const services = {} as ApiServices;
  for (const factory of options.serviceFactories ?? registeredServiceFactories) {
    Object.assign(services, factory({ db, bus, pubSub, log, metricsRegistry: metrics.registry }));
  }
  const liveSockets = createLiveSockets({ db, log, recheckMs: options.revocationRecheckMs });
  services.liveSockets = liveSockets;
  const contextDeps: ContextDeps = { db, bus, pubSub, services, log };
  const authenticator = createAuthenticator({ db, adminKeyHash, log });
  const schema = await buildApiSchema({ resolvers: options.resolvers ?? registeredResolvers, pubSub });
  const queryLimits = createQueryLimits(limits);
  const limiter = new TokenBucketLimiter();
  const onLimited = () => metrics.rateLimited.inc();
  const formatError = createErrorFormatter(log);

  const parts: ServerParts = { options, log, limits, db, bus, pubSub, metrics, services, liveSockets, contextDeps, authenticator, schema, queryLimits, limiter, onLimited, formatError };

  const app = express();
  app.disable("x-powered-by");
  const httpServer = createServer(app);
  const { wsServer, wsHandle } = serveGraphqlWs(httpServer, parts);
  const apollo = await startApollo(httpServer, parts, () => wsHandle.dispose());
  mountProbes(app, parts);
  mountGraphqlHttp(app, apollo, parts);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      liveSockets.close();
      for (const client of wsServer.clients) client.close(1001, "Going away");
      await apollo.stop();
      await new Promise<void>((r) => wsServer.close(() => r()));
      await closeServices(services, log);
    })();
    return stopping;
  };

  const host = options.host ?? "127.0.0.1";
  try {
    await listen(httpServer, host, options.port ?? 0);
  } catch (error) {
    await stop().catch(() => {});
    throw error;
  }
  const address = httpServer.address();
  const port = typeof address === "object" && address ? address.port : options.port ?? 0;
  const urlHost = host.includes(":") ? `[${host}]` : host;
  const url = `http://${urlHost}:${port}`;
  log.info("api listening", { url, bus: bus.kind, introspection: limits.introspection });

  return {
    httpServer,
    url,
    graphqlUrl: `${url}/graphql`,
    wsUrl: `ws://${urlHost}:${port}/graphql`,
    schema,
    pubSub,
    metrics,
    services,
    stop,
  };
}
