/** @module test/api/subscriptions-transport — graphql-ws on /graphql: authentication from connection_init, close
 *  codes, per-socket context, limits and errors over the socket, and a live subscription. */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { nextWithin } from "../helpers/graphql.ts";
import { startTestApi, type TestApi, type TestTenant } from "../helpers/server.ts";

const CHANGES = `subscription { dimensionsChanged { kind dimensionId dimensions { name position } } }`;

describe("graphql-ws transport", () => {
  let api: TestApi;
  let acme: TestTenant;
  let globex: TestTenant;

  before(async () => {
    api = await startTestApi({ limits: { maxDepth: 4 } });
    acme = await api.createTenantWithKey("ws-acme");
    globex = await api.createTenantWithKey("ws-globex");
  });
  after(async () => {
    await api?.stop();
  });

  for (const [label, params] of [
    ["no connection params", {}],
    ["malformed authorization", { authorization: "Token abc" }],
    ["not a key", { authorization: "Bearer nope" }],
    ["unknown key", { authorization: `Bearer parm_0123456789_${"B".repeat(43)}` }],
  ] as const) {
    test(`${label}: the socket is closed with 4401`, async () => {
      const socket = api.socket({ connectionParams: params });
      const close = await socket.closed;
      assert.equal(close.code, 4401);
      assert.match(close.reason, /^Unauthorized/);
      await assert.rejects(socket.connected);
    });
  }

  test("a revoked key cannot connect (4401)", async () => {
    const extra = await api.createKey(acme.key, "MEMBER", "ws-revoked");
    await api.gqlOk(`mutation($id: ID!) { revokeApiKey(input: { id: $id }) { __typename } }`, { id: extra.id }, acme.key);
    const socket = api.socket({ key: extra.key });
    const close = await socket.closed;
    assert.equal(close.code, 4401);
    assert.match(close.reason, /revoked/);
  });

  test("a key revoked while its socket is open: the next subscribe closes the socket with 4403", async () => {
    const extra = await api.createKey(acme.key, "MEMBER", "ws-revoked-later");
    const socket = api.socket({ key: extra.key });
    await socket.connected;
    const first = socket.iterate(`{ viewer { kind } }`);
    assert.deepEqual((await nextWithin(first, 5000)).value?.data, { viewer: { kind: "TENANT" } });
    await api.gqlOk(`mutation($id: ID!) { revokeApiKey(input: { id: $id }) { __typename } }`, { id: extra.id }, acme.key);
    const second = socket.iterate(`{ viewer { kind } }`);
    await assert.rejects(nextWithin(second, 5000));
    const close = await socket.closed;
    assert.equal(close.code, 4403);
  });

  /** Resolves with the socket's close, or rejects when it stays open longer than `ms`. */
  const closedWithin = (socket: { closed: Promise<{ code: number; reason: string }> }, ms: number) =>
    Promise.race([
      socket.closed,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`socket still open after ${ms} ms`)), ms)),
    ]);

  /** The iterator ends (or fails) without delivering another value. */
  const deliversNothingMore = async (iterator: AsyncIterator<{ data?: unknown }>) => {
    const outcome = await nextWithin(iterator, 1000).then(
      (r) => (r.done ? "done" : `value ${JSON.stringify(r.value)}`),
      (e: unknown) => (e instanceof Error && /nothing within/.test(e.message) ? "silent" : "ended"),
    );
    assert.match(outcome, /^(done|ended|silent)$/);
  };

  test("revoking a key closes its open subscription with 4403 within a second; no further event arrives", async () => {
    const initech = await api.createTenantWithKey("ws-initech");
    const member = await api.createKey(initech.key, "MEMBER", "ws-live-revoked");
    const { iterator, socket } = await api.subscribe(CHANGES, undefined, member.key);
    await new Promise((r) => setTimeout(r, 100));
    const revokedAt = Date.now();
    await api.gqlOk(`mutation($id: ID!) { revokeApiKey(input: { id: $id }) { __typename } }`, { id: member.id }, initech.key);
    const close = await closedWithin(socket, 1000);
    assert.ok(Date.now() - revokedAt < 1000);
    assert.equal(close.code, 4403);
    assert.match(close.reason, /^Forbidden: API key revoked/);
    await api.gqlOk(`mutation { createDimension(input: { name: "after-revocation", betaR: 0.05 }) { __typename } }`, undefined, initech.key);
    await deliversNothingMore(iterator);
  });

  test("a key revoked by another api process (directly in the database) is closed by the re-check within a second", async () => {
    const umbrella = await api.createTenantWithKey("ws-umbrella");
    const member = await api.createKey(umbrella.key, "MEMBER", "ws-revoked-elsewhere");
    const other = await api.createKey(umbrella.key, "MEMBER", "ws-not-revoked");
    const { iterator, socket } = await api.subscribe(CHANGES, undefined, member.key);
    const bystander = await api.subscribe(CHANGES, undefined, other.key);
    await new Promise((r) => setTimeout(r, 100));
    const uuid = Buffer.from(member.id, "base64").toString("utf8").split(":")[1]!;
    await api.db.system.apiKey.update({ where: { id: uuid }, data: { revokedAt: new Date() } });
    const close = await closedWithin(socket, 1500);
    assert.equal(close.code, 4403);
    await api.gqlOk(`mutation { createDimension(input: { name: "after-db-revocation", betaR: 0.05 }) { __typename } }`, undefined, umbrella.key);
    await deliversNothingMore(iterator);
    const seen = await nextWithin(bystander.iterator, 5000, "the other key's socket stays open");
    assert.equal((seen.value?.data as { dimensionsChanged: { kind: string } }).dimensionsChanged.kind, "CREATED");
  });

  test("the legacy subscriptions-transport-ws sub-protocol is refused", async () => {
    const ws = new WebSocket(api.wsUrl, "graphql-ws");
    const outcome = await new Promise<string>((resolve) => {
      ws.on("open", () => resolve("open"));
      ws.on("error", (e) => resolve(`error: ${e.message}`));
      ws.on("close", (code) => resolve(`close ${code}`));
    });
    ws.terminate();
    assert.match(outcome, /^(error: Server sent no subprotocol|close 4406)$/);
  });

  test("queries run over the socket with the socket's authentication", async () => {
    const { iterator } = await api.subscribe(`{ viewer { kind tenant { name } } }`, undefined, globex.key);
    const result = await nextWithin(iterator, 5000);
    assert.deepEqual(result.value?.data, { viewer: { kind: "TENANT", tenant: { name: "ws-globex" } } });
  });

  test("limits apply over the socket too: depth 5 > 4 is QUERY_TOO_DEEP", async () => {
    const socket = api.socket({ key: api.adminKey });
    await socket.connected;
    const run = (query: string) =>
      new Promise<{ data?: unknown; errors?: readonly { message: string; extensions?: Record<string, unknown> }[] }>((resolve) => {
        socket.client.subscribe({ query }, { next: (r) => resolve(r as never), error: (e) => resolve({ errors: e as never }), complete: () => {} });
      });
    const ok = await run(`{ tenants(first: 1) { edges { node { name } } } }`);
    assert.equal((ok.data as { tenants: { edges: unknown[] } }).tenants.edges.length, 1);
    const deep = await run(`{ tenants { edges { node { ... on Tenant { name } } } } }`);
    assert.equal(deep.data, undefined);
    assert.equal(deep.errors?.[0]?.extensions?.code, "QUERY_TOO_DEEP");
    assert.match(deep.errors![0]!.message, /depth limit of 4 exceeded, found 5/);
  });

  test("errors over the socket carry codes and no stack or http internals", async () => {
    const socket = api.socket({ key: acme.key });
    await socket.connected;
    const errors = await new Promise<readonly { message: string; extensions?: Record<string, unknown> }[]>((resolve) => {
      socket.client.subscribe(
        { query: `{ tenants { edges { node { id } } } }` },
        { next: (r) => resolve((r.errors ?? []) as never), error: (e) => resolve(e as never), complete: () => {} },
      );
    });
    assert.equal(errors[0]?.extensions?.code, "FORBIDDEN");
    assert.equal(errors[0]?.extensions?.http, undefined);
    assert.equal(errors[0]?.extensions?.stacktrace, undefined);
  });

  test("a subscription delivers the caller tenant's events only", async () => {
    const mine = await api.subscribe(CHANGES, undefined, acme.key);
    const theirs = await api.subscribe(CHANGES, undefined, globex.key);
    // Give the server a moment to register both subscriptions.
    await new Promise((r) => setTimeout(r, 100));
    const created = await api.gqlOk(
      `mutation { createDimension(input: { name: "helpful", betaR: 0.05 }) { ... on CreateDimensionSuccess { dimension { id } } } }`,
      undefined,
      acme.key,
    );
    const event = await nextWithin(mine.iterator, 5000, "acme's dimension event");
    assert.deepEqual(event.value?.data, {
      dimensionsChanged: {
        kind: "CREATED",
        dimensionId: created.createDimension.dimension.id,
        dimensions: [{ name: "helpful", position: 0 }],
      },
    });
    await assert.rejects(nextWithin(theirs.iterator, 300, "globex must see nothing"));
  });

  test("the admin key cannot subscribe to tenant events (FORBIDDEN)", async () => {
    const { iterator } = await api.subscribe(CHANGES, undefined, api.adminKey);
    const outcome = await nextWithin(iterator, 5000).then(
      (r) => r.value?.errors?.[0]?.extensions?.code,
      (e: unknown) => (Array.isArray(e) ? (e[0] as { extensions?: { code?: string } }).extensions?.code : String(e)),
    );
    assert.equal(outcome, "FORBIDDEN");
  });

  test("over the socket: a MEMBER managing keys is FORBIDDEN, and mutations are rate limited per tenant", async () => {
    const tight = await api.createTenantWithKey("ws-tight", { mutationsPerMinute: 1 });
    const member = await api.createKey(tight.key, "MEMBER", "ws-member"); // spends the single token
    const socket = api.socket({ key: member.key });
    await socket.connected;
    const run = (query: string) =>
      new Promise<{ data?: unknown; errors?: readonly { message: string; extensions?: Record<string, unknown> }[] }>((resolve) => {
        socket.client.subscribe({ query }, { next: (r) => resolve(r as never), error: (e) => resolve({ errors: e as never }), complete: () => {} });
      });
    const forbidden = await run(`{ apiKeys { edges { node { id } } } }`);
    assert.equal(forbidden.errors?.[0]?.extensions?.code, "FORBIDDEN");
    const limited = await run(`mutation { createApiKey(input: { name: "x" }) { __typename } }`);
    assert.equal(limited.errors?.[0]?.extensions?.code, "RATE_LIMITED");
    assert.ok(Number(limited.errors?.[0]?.extensions?.retryAfter) >= 1);
    assert.equal(await api.db.system.apiKey.count({ where: { tenantId: tight.uuid, name: "x" } }), 0);
  });
});
