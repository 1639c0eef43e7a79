import { test } from "node:test";
import assert from "node:assert/strict";
import DataLoader from "dataloader";
import type { JobBus } from "../bus/index.ts";
import { createContext, type ContextDeps } from "./context.ts";
import type { Database } from "./db/index.ts";
import { ForbiddenError, UnauthenticatedError } from "./errors/index.ts";
import { createApiPubSub } from "./pubsub/index.ts";
import { silentLogger } from "./server/logger.ts";

function deps() {
  const scopedFor: string[] = [];
  const db = { system: {}, forTenant: (id: string) => (scopedFor.push(id), { tenantId: id }) } as unknown as Database;
  const value: ContextDeps = { db, bus: {} as JobBus, pubSub: createApiPubSub(), services: {}, log: silentLogger };
  return { value, scopedFor };
}

test("tenantDb() is scoped to the caller's tenant and built once per operation", () => {
  const { value, scopedFor } = deps();
  const ctx = createContext(value, { kind: "tenant", tenantId: "t-1", keyId: "k", role: "MEMBER", mutationsPerMinute: 5 }, "req-1", "http");
  const a = ctx.tenantDb();
  assert.equal(ctx.tenantDb(), a);
  assert.deepEqual(scopedFor, ["t-1"]);
  const other = createContext(value, { kind: "tenant", tenantId: "t-2", keyId: "k2", role: "MEMBER", mutationsPerMinute: 5 }, "req-2", "ws");
  other.tenantDb();
  assert.deepEqual(scopedFor, ["t-1", "t-2"]);
  assert.equal(other.transport, "ws");
  assert.equal(other.requestId, "req-2");
});

test("tenantDb() refuses the admin (FORBIDDEN) and anonymous callers (UNAUTHENTICATED)", () => {
  const { value, scopedFor } = deps();
  assert.throws(() => createContext(value, { kind: "admin" }, "r", "http").tenantDb(), ForbiddenError);
  assert.throws(() => createContext(value, { kind: "anonymous" }, "r", "http").tenantDb(), UnauthenticatedError);
  assert.deepEqual(scopedFor, []);
});

test("loader() memoises a DataLoader per name within one operation only", async () => {
  const { value } = deps();
  let batches = 0;
  const make = () => new DataLoader<string, string>(async (keys) => (batches++, keys.map((k) => k.toUpperCase())));
  const ctx = createContext(value, { kind: "admin" }, "r", "http");
  const loader = ctx.loader("upper", make);
  assert.equal(ctx.loader("upper", make), loader);
  assert.deepEqual(await Promise.all([loader.load("a"), ctx.loader("upper", make).load("b")]), ["A", "B"]);
  assert.equal(batches, 1);
  const next = createContext(value, { kind: "admin" }, "r2", "http");
  assert.notEqual(next.loader("upper", make), loader);
});
