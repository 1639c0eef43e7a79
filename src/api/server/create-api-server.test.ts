import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestApi, type TestApi } from "../../../test/helpers/server.ts";
import { requireTenant, type ServiceFactory } from "../context.ts";
import { createApiServer } from "./create-api-server.ts";
import type { HttpRouteMount } from "./http-routes.ts";

describe("createApiServer: HTTP surface", () => {
  let api: TestApi;
  let staticDir: string;
  let closed = 0;
  const route: HttpRouteMount = (app, deps) => {
    app.post("/v1/echo/:id", async (req, res) => {
      try {
        const ctx = await deps.contextFor(req);
        const auth = requireTenant(ctx);
        res.json({ id: req.params.id, tenant: auth.tenantId, requestId: ctx.requestId, service: (ctx.services as { probe?: { name: string } }).probe?.name });
      } catch (error) {
        deps.sendError(res, error);
      }
    });
  };
  const probe: ServiceFactory = () => ({ probe: { name: "probe", close: () => void closed++ } }) as never;

  before(async () => {
    staticDir = mkdtempSync(join(tmpdir(), "parm-console-"));
    writeFileSync(join(staticDir, "index.html"), "<!doctype html><title>parm console</title>");
    writeFileSync(join(staticDir, "app.js"), "console.log('hi')");
    mkdirSync(join(staticDir, "assets"));
    writeFileSync(join(staticDir, "assets", "index-abc123.js"), "export {}");
    api = await startTestApi({ staticDir, httpRoutes: [route], serviceFactories: [probe] });
  });
  after(async () => {
    await api?.stop();
    rmSync(staticDir, { recursive: true, force: true });
    assert.equal(closed, 1, "services with close() are closed on stop");
  });

  test("/healthz and /readyz (database and bus checked)", async () => {
    const health = await fetch(`${api.url}/healthz`);
    assert.deepEqual([health.status, await health.json()], [200, { status: "ok" }]);
    const ready = await fetch(`${api.url}/readyz`);
    const body = (await ready.json()) as { status: string; checks: Record<string, string> };
    assert.equal(ready.status, 200);
    assert.deepEqual(body.checks, { database: "ok", bus: "ok" });
  });

  test("/readyz is 503 naming the failing dependency", async () => {
    const original = api.bus.queueDepth;
    api.bus.queueDepth = async () => {
      throw new Error("nats unreachable");
    };
    try {
      const ready = await fetch(`${api.url}/readyz`);
      const body = (await ready.json()) as { status: string; checks: Record<string, string> };
      assert.equal(ready.status, 503);
      assert.equal(body.checks.database, "ok");
      assert.match(body.checks.bus!, /nats unreachable/);
    } finally {
      api.bus.queueDepth = original;
    }
  });

  test("/metrics exposes parm_ metrics including GraphQL operations", async () => {
    await api.gql(`{ viewer { kind } }`, undefined, api.adminKey);
    const res = await fetch(`${api.url}/metrics`);
    assert.match(res.headers.get("content-type") ?? "", /text\/plain/);
    const text = await res.text();
    assert.match(text, /parm_graphql_operations_total\{type="query",transport="http",outcome="ok"\} [1-9]/);
    assert.match(text, /parm_http_requests_total\{method="POST",route="\/graphql",status="200"\} [1-9]/);
  });

  test("the console is served with an SPA fallback; unknown API paths are JSON 404s", async () => {
    const index = await fetch(`${api.url}/`);
    assert.equal(index.status, 200);
    assert.match(await index.text(), /parm console/);
    assert.equal(index.headers.get("cache-control"), "no-cache");
    const csp = index.headers.get("content-security-policy") ?? "";
    assert.match(csp, /default-src 'self'.*script-src 'self'.*frame-ancestors 'none'/);
    const host = new URL(api.url).host;
    assert.match(csp, new RegExp(`connect-src 'self' ws://${host.replace(/[.[\]]/g, "\\$&")} wss://`), "sockets only to the api's own host");
    const direct = await fetch(`${api.url}/index.html`);
    assert.equal(direct.headers.get("cache-control"), "no-cache");
    assert.ok(direct.headers.get("content-security-policy"));
    const asset = await fetch(`${api.url}/app.js`);
    assert.equal(await asset.text(), "console.log('hi')");
    assert.equal(asset.headers.get("cache-control"), "public, max-age=3600");
    const hashed = await fetch(`${api.url}/assets/index-abc123.js`);
    assert.equal(await hashed.text(), "export {}");
    assert.equal(hashed.headers.get("cache-control"), "public, max-age=31536000, immutable");
    const missingAsset = await fetch(`${api.url}/assets/gone-123.js`, { headers: { accept: "text/html" } });
    assert.equal(missingAsset.status, 404, "a missing hashed asset is a 404, not index.html");
    const deep = await fetch(`${api.url}/jobs/123`, { headers: { accept: "text/html" } });
    assert.match(await deep.text(), /parm console/);
    assert.equal(deep.headers.get("cache-control"), "no-cache");
    assert.ok(deep.headers.get("content-security-policy"));
    const probe = await fetch(`${api.url}/metrics/anything`, { headers: { accept: "text/html" } });
    assert.equal(probe.status, 404, "API paths never fall back to the console");
    const api404 = await fetch(`${api.url}/v1/nothing`, { headers: { accept: "text/html" } });
    assert.equal(api404.status, 404);
    assert.equal(((await api404.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code, "NOT_FOUND");
  });

  test("registered routes get authentication, services and GraphQL-shaped errors", async () => {
    const tenant = await api.createTenantWithKey("routes-acme");
    const ok = await fetch(`${api.url}/v1/echo/42`, {
      method: "POST",
      headers: { authorization: `Bearer ${tenant.key}`, "x-request-id": "req-12345678" },
    });
    assert.equal(ok.headers.get("x-request-id"), "req-12345678");
    assert.deepEqual(await ok.json(), { id: "42", tenant: tenant.uuid, requestId: "req-12345678", service: "probe" });
    const anon = await fetch(`${api.url}/v1/echo/42`, { method: "POST" });
    assert.equal(anon.status, 401);
    assert.equal(((await anon.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code, "UNAUTHENTICATED");
    const admin = await fetch(`${api.url}/v1/echo/42`, { method: "POST", headers: { authorization: `Bearer ${api.adminKey}` } });
    assert.equal(admin.status, 403);
    const bad = await fetch(`${api.url}/v1/echo/42`, { method: "POST", headers: { authorization: "Bearer nope" } });
    assert.equal(bad.status, 401);
    assert.match(bad.headers.get("www-authenticate") ?? "", /Bearer/);
  });

  test("a generated request id is returned when none (or a malformed one) is sent", async () => {
    const res = await fetch(`${api.url}/healthz`, { headers: { "x-request-id": "bad id!" } });
    assert.match(res.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/);
  });

  test("a port already in use rejects with EADDRINUSE and closes what was started", async () => {
    let closedHere = 0;
    const port = Number(new URL(api.url).port);
    await assert.rejects(
      createApiServer({
        db: api.db,
        bus: api.bus,
        adminKey: "a".repeat(30),
        port,
        defaultMetrics: false,
        serviceFactories: [() => ({ extra: { close: () => void closedHere++ } }) as never],
      }),
      (e: NodeJS.ErrnoException) => e.code === "EADDRINUSE",
    );
    assert.equal(closedHere, 1);
    assert.equal((await fetch(`${api.url}/healthz`)).status, 200);
  });

  test("createApiServer needs an admin key", async () => {
    await assert.rejects(createApiServer({ db: api.db, bus: api.bus, defaultMetrics: false }), /adminKey or adminKeyHash is required/);
  });
});
