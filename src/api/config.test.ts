import { test } from "node:test";
import assert from "node:assert/strict";
import { DATASET_LIMITS, DEFAULT_DATASET_LIMITS } from "../contracts/index.ts";
import { ConfigError, DEFAULT_LIMITS, loadConfig, loadDatasetLimits } from "./config.ts";

test("defaults: 127.0.0.1:4000, ./.parm, no DATABASE_URL/NATS_URL/admin key, introspection on", () => {
  const c = loadConfig({}, "/srv/app");
  assert.equal(c.port, 4000);
  assert.equal(c.host, "127.0.0.1");
  assert.equal(c.dataDir, "/srv/app/.parm");
  assert.equal(c.staticDir, "/srv/app/web/dist");
  assert.equal(c.databaseUrl, undefined);
  assert.equal(c.natsUrl, undefined);
  assert.equal(c.bus, "auto");
  assert.equal(c.adminKey, undefined);
  assert.equal(c.logLevel, "info");
  assert.deepEqual(c.limits, DEFAULT_LIMITS);
});

test("NODE_ENV=production turns introspection off unless PARM_INTROSPECTION says otherwise", () => {
  assert.equal(loadConfig({ NODE_ENV: "production" }).limits.introspection, false);
  assert.equal(loadConfig({ NODE_ENV: "production", PARM_INTROSPECTION: "1" }).limits.introspection, true);
  assert.equal(loadConfig({ PARM_INTROSPECTION: "off" }).limits.introspection, false);
});

test("values are parsed and validated; errors name the variable", () => {
  const c = loadConfig({
    PORT: "0",
    HOST: "0.0.0.0",
    PARM_DATA_DIR: "/var/lib/parm",
    DATABASE_URL: "postgresql://u:p@db:5432/parm",
    NATS_URL: "nats://nats:4222",
    PARM_ADMIN_KEY: "k".repeat(32),
    PARM_MAX_DEPTH: "8",
    PARM_BODY_LIMIT_BYTES: "2048",
    PARM_RATE_LIMIT: "false",
    PARM_LOG_LEVEL: "warn",
  });
  assert.deepEqual(
    [c.port, c.host, c.dataDir, c.databaseUrl, c.natsUrl, c.limits.maxDepth, c.limits.bodyLimitBytes, c.limits.rateLimit, c.logLevel],
    [0, "0.0.0.0", "/var/lib/parm", "postgresql://u:p@db:5432/parm", "nats://nats:4222", 8, 2048, false, "warn"],
  );
  const cases: [Record<string, string>, string][] = [
    [{ PORT: "70000" }, "PORT"],
    [{ PORT: "abc" }, "PORT"],
    [{ DATABASE_URL: "mysql://x" }, "DATABASE_URL"],
    [{ NATS_URL: "not a url" }, "NATS_URL"],
    [{ PARM_ADMIN_KEY: "short" }, "PARM_ADMIN_KEY"],
    [{ PARM_MAX_DEPTH: "1" }, "PARM_MAX_DEPTH"],
    [{ PARM_RATE_LIMIT: "maybe" }, "PARM_RATE_LIMIT"],
    [{ PARM_LOG_LEVEL: "loud" }, "PARM_LOG_LEVEL"],
  ];
  for (const [env, variable] of cases) {
    assert.throws(() => loadConfig(env), (e: unknown) => e instanceof ConfigError && e.variable === variable && e.message.startsWith(variable), variable);
  }
});

test("dataset upload limits: the contract's defaults, each variable within its bounds, errors name the variable", () => {
  assert.deepEqual(loadConfig({}).datasetLimits, DEFAULT_DATASET_LIMITS);
  assert.deepEqual(
    loadDatasetLimits({ PARM_DATASET_MAX_DECOMPRESSED_BYTES: "1048576", PARM_DATASET_MAX_EXPANSION_RATIO: "1032", PARM_DATASET_MAX_LINES: "1" }),
    { maxDecompressedBytes: 1048576, maxExpansionRatio: 1032, maxLines: 1 },
  );
  for (const [key, spec] of Object.entries(DATASET_LIMITS)) {
    assert.ok(spec.min <= spec.default && spec.default <= spec.max, key);
    for (const bad of [String(spec.min - 1), String(spec.max + 1), "1.5", "lots"]) {
      assert.throws(() => loadConfig({ [spec.env]: bad }), (e: unknown) => e instanceof ConfigError && e.variable === spec.env, `${spec.env}=${bad}`);
    }
  }
});

test("PARM_BUS: auto by default, inprocess forces the in-process bus, jetstream requires NATS; contradictions refused", () => {
  assert.equal(loadConfig({ PARM_BUS: "inprocess" }).bus, "inprocess");
  assert.equal(loadConfig({ PARM_BUS: "in-process" }).bus, "inprocess");
  assert.equal(loadConfig({ PARM_BUS: "jetstream", NATS_URL: "nats://n:4222" }).bus, "jetstream");
  assert.throws(() => loadConfig({ PARM_BUS: "kafka" }), (e: unknown) => e instanceof ConfigError && /PARM_BUS/.test(e.message));
  assert.throws(() => loadConfig({ PARM_BUS: "inprocess", NATS_URL: "nats://n:4222" }), (e: unknown) => e instanceof ConfigError && /NATS_URL/.test(e.message));
});

test("metrics: /metrics open and no tenant labels by default; PARM_METRICS_TOKEN ≥ 16 characters; errors name the variable", () => {
  assert.deepEqual(loadConfig({}).metrics, { token: undefined, tenantLabels: false });
  assert.deepEqual(loadConfig({ PARM_METRICS_TOKEN: "s3cret-scrape-token", PARM_METRICS_TENANT_LABELS: "on" }).metrics, {
    token: "s3cret-scrape-token",
    tenantLabels: true,
  });
  for (const [variable, bad] of [["PARM_METRICS_TOKEN", "short"], ["PARM_METRICS_TOKEN", "has white space inside!"], ["PARM_METRICS_TENANT_LABELS", "maybe"]] as const) {
    assert.throws(() => loadConfig({ [variable]: bad }), (e: unknown) => e instanceof ConfigError && e.variable === variable, `${variable}=${bad}`);
  }
});
