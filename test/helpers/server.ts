/**
 * @module test/helpers/server — a real API for integration tests: a fresh migrated database (createTestDatabase),
 * a job bus (JetStream at NATS_URL in a unique namespace when set, else in-process), and `createApiServer` on
 * 127.0.0.1 port 0. Talk to it over loopback with `gql` (HTTP) and `subscribe`/`socket` (graphql-ws).
 */
import "reflect-metadata";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import { generateAdminKey } from "../../src/api/auth/index.ts";
import type { ApiLimits } from "../../src/api/config.ts";
import type { ServiceFactory } from "../../src/api/context.ts";
import type { Database } from "../../src/api/db/index.ts";
import { createApiServer, silentLogger, type ApiServer, type HttpRouteMount, type Logger, type ResolverClasses } from "../../src/api/server/index.ts";
import { createBus, type JobBus } from "../../src/bus/index.ts";
import { serviceFactories as registeredServiceFactories } from "../../src/api/resolvers/index.ts";
import { ModelRoots, type ModelRootsPolicy } from "../../src/api/services/model-roots.ts";
import { createTestDatabase, type TestDatabase } from "./db.ts";
import { openGraphQLSocket, postGraphQL, type GraphQLResponse, type GraphQLSocket } from "./graphql.ts";

export interface TestTenant {
  /** Global id of the tenant. */
  id: string;
  /** Row uuid of the tenant. */
  uuid: string;
  name: string;
  /** The tenant's first key (TENANT_ADMIN). */
  key: string;
  /** Global id of that key. */
  keyId: string;
}

export interface TestApi {
  url: string;
  graphqlUrl: string;
  wsUrl: string;
  adminKey: string;
  server: ApiServer;
  db: Database;
  bus: JobBus;
  testDb: TestDatabase;
  /** POST /graphql; `key` is sent as a Bearer token (omit for anonymous). */
  gql<T = Record<string, any>>(query: string, variables?: Record<string, unknown>, key?: string): Promise<GraphQLResponse<T>>;
  /** gql that fails the test on top-level errors; returns data. */
  gqlOk<T = Record<string, any>>(query: string, variables?: Record<string, unknown>, key?: string): Promise<T>;
  /** Creates a tenant (as the admin) and returns it with its first TENANT_ADMIN key. */
  createTenantWithKey(name?: string, input?: Record<string, unknown>): Promise<TestTenant>;
  /** Creates another key for a tenant (as that tenant's admin key). */
  createKey(tenantAdminKey: string, role: "TENANT_ADMIN" | "MEMBER", name?: string): Promise<{ id: string; key: string }>;
  /** Opens a graphql-ws connection authenticated with `key` and subscribes; iterate the results. */
  subscribe<T = Record<string, any>>(
    query: string,
    variables: Record<string, unknown> | undefined,
    key: string,
  ): Promise<{ iterator: AsyncIterableIterator<{ data?: T | null; errors?: { message: string; extensions?: Record<string, unknown> }[] }>; socket: GraphQLSocket }>;
  /** A raw graphql-ws connection (auth failure tests). */
  socket(options: { key?: string; connectionParams?: Record<string, unknown> }): GraphQLSocket;
  stop(): Promise<void>;
}

export interface StartTestApiOptions {
  limits?: Partial<ApiLimits>;
  resolvers?: ResolverClasses;
  httpRoutes?: readonly HttpRouteMount[];
  serviceFactories?: readonly ServiceFactory[];
  log?: Logger;
  staticDir?: string;
  /** Model roots for registration by location; default: the shared data folder and the OS temporary folder, with
   *  the test api's data dir excluded. Added after `serviceFactories`, so it wins. */
  modelRoots?: ModelRootsPolicy;
}

/** The shared real data (../shared/data): where the tests' models live. */
export const SHARED_DATA_DIR = fileURLToPath(new URL("../../../shared/data/", import.meta.url));

let tenantCounter = 0;

export async function startTestApi(options: StartTestApiOptions = {}): Promise<TestApi> {
  const testDb = await createTestDatabase();
  const dataDir = mkdtempSync(join(tmpdir(), "parm-api-test-"));
  const sockets = new Set<GraphQLSocket>();
  let bus: JobBus | undefined;
  let server: ApiServer | undefined;
  try {
    bus = await createBus({
      natsUrl: process.env.NATS_URL || undefined,
      dataDir,
      log: { info() {}, warn() {} },
      natsServerBinary: null,
      namespace: `t${randomBytes(5).toString("hex")}`,
    });
    const adminKey = generateAdminKey();
    server = await createApiServer({
      db: testDb.db,
      bus,
      adminKey,
      log: options.log ?? silentLogger,
      limits: options.limits,
      resolvers: options.resolvers,
      httpRoutes: options.httpRoutes,
      serviceFactories: [
        ...(options.serviceFactories ?? registeredServiceFactories),
        () => ({ modelRoots: new ModelRoots(options.modelRoots ?? { roots: [SHARED_DATA_DIR, tmpdir()], excluded: [dataDir] }) }),
      ],
      staticDir: options.staticDir,
      defaultMetrics: false,
    });
    const s = server;
    const b = bus;
    const gql = <T>(query: string, variables?: Record<string, unknown>, key?: string) =>
      postGraphQL<T>(s.graphqlUrl, query, variables, { key });
    const gqlOk = async <T>(query: string, variables?: Record<string, unknown>, key?: string): Promise<T> => {
      const res = await gql<T>(query, variables, key);
      if (res.errors?.length || !res.data) {
        throw new Error(`GraphQL errors (HTTP ${res.status}): ${JSON.stringify(res.errors ?? res.body)}`);
      }
      return res.data;
    };
    const api: TestApi = {
      url: s.url,
      graphqlUrl: s.graphqlUrl,
      wsUrl: s.wsUrl,
      adminKey,
      server: s,
      db: testDb.db,
      bus: b,
      testDb,
      gql,
      gqlOk,
      async createTenantWithKey(name, input = {}) {
        const tenantName = name ?? `tenant-${process.pid}-${++tenantCounter}`;
        const data = await gqlOk<{ createTenant: Record<string, any> }>(
          `mutation($input: CreateTenantInput!) { createTenant(input: $input) {
             __typename
             ... on CreateTenantSuccess { tenant { id name } apiKey { id } secret }
             ... on Error { message }
          } }`,
          { input: { name: tenantName, ...input } },
          adminKey,
        );
        const payload = data.createTenant;
        if (payload.__typename !== "CreateTenantSuccess") throw new Error(`createTenant: ${payload.message}`);
        const uuid = Buffer.from(payload.tenant.id as string, "base64").toString("utf8").split(":")[1]!;
        return { id: payload.tenant.id, uuid, name: tenantName, key: payload.secret, keyId: payload.apiKey.id };
      },
      async createKey(tenantAdminKey, role, name = `key-${role.toLowerCase()}`) {
        const data = await gqlOk<{ createApiKey: Record<string, any> }>(
          `mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) {
             __typename
             ... on CreateApiKeySuccess { apiKey { id } secret }
             ... on Error { message }
          } }`,
          { input: { name, role } },
          tenantAdminKey,
        );
        const payload = data.createApiKey;
        if (payload.__typename !== "CreateApiKeySuccess") throw new Error(`createApiKey: ${payload.message}`);
        return { id: payload.apiKey.id, key: payload.secret };
      },
      async subscribe(query, variables, key) {
        const socket = openGraphQLSocket(s.wsUrl, { key });
        sockets.add(socket);
        await socket.connected;
        return { iterator: socket.iterate(query, variables), socket };
      },
      socket(opts) {
        const socket = openGraphQLSocket(s.wsUrl, opts);
        sockets.add(socket);
        return socket;
      },
      async stop() {
        await Promise.all([...sockets].map((sock) => sock.dispose().catch(() => {})));
        await s.stop();
        await b.close();
        await testDb.drop();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
    return api;
  } catch (error) {
    await server?.stop().catch(() => {});
    await bus?.close().catch(() => {});
    await testDb.drop().catch(() => {});
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
}
