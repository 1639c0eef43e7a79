import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:http";
import express from "express";
import { createApiMetrics } from "./index.ts";

test("metrics use the parm_ prefix (gen_ai_ for OpenTelemetry GenAI names), live on their own registry, and count HTTP requests by route pattern", async () => {
  const metrics = createApiMetrics({ defaultMetrics: true });
  const other = createApiMetrics({ defaultMetrics: false }); // a second server in the same process must not clash
  const app = express();
  app.use(metrics.httpMiddleware());
  app.get("/healthz", (_req, res) => void res.json({ ok: true }));
  app.get("/v1/things/:id", (_req, res) => void res.status(201).end());
  const server = createServer(app).listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  try {
    await fetch(`http://127.0.0.1:${port}/healthz`);
    await fetch(`http://127.0.0.1:${port}/v1/things/123`);
    await fetch(`http://127.0.0.1:${port}/v1/things/456`);
    await fetch(`http://127.0.0.1:${port}/nowhere`);
    const text = await metrics.registry.metrics();
    const names = [...text.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]!);
    assert.ok(names.length > 10);
    for (const name of names) assert.match(name, /^(parm_|gen_ai_server_)/);
    assert.ok(names.includes("gen_ai_server_time_to_first_token_seconds"));
    assert.match(text, /parm_http_requests_total\{method="GET",route="\/healthz",status="200"\} 1/);
    assert.match(text, /parm_http_requests_total\{method="GET",route="\/v1\/things\/:id",status="201"\} 2/);
    assert.match(text, /parm_http_requests_total\{method="GET",route="static",status="404"\} 1/);
    const httpLines = text.split("\n").filter((l) => l.startsWith("parm_http_"));
    assert.ok(httpLines.length > 0);
    for (const line of httpLines) assert.doesNotMatch(line, /\{[^}]*(123|456)[^}]*\}/, "no unbounded path labels");
    assert.doesNotMatch(await other.registry.metrics(), /parm_http_requests_total\{/);
  } finally {
    server.close();
  }
});
