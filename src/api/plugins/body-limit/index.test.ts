import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:http";
import express from "express";
import { bodyErrorHandler, jsonBodyParser } from "./index.ts";

test("bodies over the limit get 413 PAYLOAD_TOO_LARGE naming the limit; bad JSON 400; good JSON passes", async () => {
  const app = express();
  app.post("/echo", jsonBodyParser(1024), (req, res) => void res.json({ got: req.body }));
  app.use(bodyErrorHandler(1024));
  const server = createServer(app).listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  const post = (body: string) =>
    fetch(`http://127.0.0.1:${port}/echo`, { method: "POST", headers: { "content-type": "application/json" }, body });
  try {
    const ok = await post(JSON.stringify({ a: 1 }));
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { got: { a: 1 } });
    const big = await post(JSON.stringify({ a: "x".repeat(2000) }));
    assert.equal(big.status, 413);
    const body = (await big.json()) as { errors: { message: string; extensions: { code: string; limitBytes: number } }[] };
    assert.equal(body.errors[0]!.extensions.code, "PAYLOAD_TOO_LARGE");
    assert.equal(body.errors[0]!.extensions.limitBytes, 1024);
    assert.match(body.errors[0]!.message, /limit is 1024 bytes, got 20\d\d/);
    const bad = await post("{not json");
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code, "BAD_REQUEST");
  } finally {
    server.close();
  }
});
