/**
 * @module test/api/start-and-stop — `npm start` (src/api/main.ts) as a process on an embedded PostgreSQL and a
 * local nats-server: a first start that fails (port in use) stores no admin-key hash and the next start prints a
 * key that works; one SIGTERM (or a terminal's SIGINT to the whole process group) runs one graceful shutdown that
 * closes WebSocket clients with 1001, stops PostgreSQL last, exits 0 and leaves no process behind.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openGraphQLSocket, postGraphQL } from "../helpers/graphql.ts";
import { descendantsOf, isAlive, spawnApi, type ApiProcess } from "../helpers/api-process.ts";

const KEY_LINE = /^\s+(parm_admin_[A-Za-z0-9_-]{43})$/m;

async function allGone(pids: number[], ms = 10_000): Promise<number[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const alive = pids.filter(isAlive);
    if (alive.length === 0 || Date.now() > deadline) return alive;
    await new Promise((r) => setTimeout(r, 100));
  }
}

function occupyPort(): Promise<Server> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => resolve(server));
  });
}

describe("npm start: admin key and shutdown", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "parm-start-"));
  const env = { PARM_DATA_DIR: dataDir, PARM_LOG_LEVEL: "debug", PARM_TEST: "1" };
  let adminKey = "";
  let running: ApiProcess | undefined;

  before(() => {
    assert.ok(existsSync("/proc/self/stat"), "needs Linux /proc");
  });
  after(async () => {
    if (running && running.child.exitCode === null) running.child.kill("SIGKILL");
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("a first start that fails because the port is taken prints no key, stores no hash and leaves nothing running", async () => {
    const blocker = await occupyPort();
    try {
      const port = (blocker.address() as { port: number }).port;
      const api = spawnApi({ ...env, PORT: String(port) });
      await api.waitForLog("embedded PostgreSQL ready");
      const children = descendantsOf(api.child.pid!);
      const { code } = await api.exited;
      assert.equal(code, 1, api.stderr());
      assert.ok(api.logs().some((l) => l.msg === "api failed to start" && /EADDRINUSE/.test(String(l.error))), api.stderr());
      assert.doesNotMatch(api.stdout(), KEY_LINE);
      assert.equal(existsSync(join(dataDir, "admin-key.sha256")), false);
      assert.deepEqual(await allGone(children), [], "PostgreSQL and nats-server stopped with the failed start");
    } finally {
      blocker.close();
    }
  });

  test("the next start prints a key once it listens, then stores its hash; the key works", async () => {
    running = spawnApi(env);
    const ready = await running.waitForLog("parm api ready");
    assert.equal(ready.adminKey, "generated");
    const deadline = Date.now() + 10_000;
    while (!existsSync(join(dataDir, "admin-key.sha256")) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const match = KEY_LINE.exec(running.stdout());
    assert.ok(match, running.stdout());
    adminKey = match[1]!;
    assert.equal(readFileSync(join(dataDir, "admin-key.sha256"), "utf8").trim(), createHash("sha256").update(adminKey).digest("hex"));
    const viewer = await postGraphQL<{ viewer: { kind: string } }>(String(ready.graphql), `{ viewer { kind } }`, undefined, { key: adminKey });
    assert.deepEqual(viewer.data, { viewer: { kind: "ADMIN" } });
  });

  test("one SIGTERM: one graceful shutdown, WebSocket close 1001, PostgreSQL last, exit 0, no process left", async () => {
    const api = running!;
    const ready = api.logs().find((l) => l.msg === "parm api ready")!;
    const socket = openGraphQLSocket(String(ready.graphql).replace(/^http/, "ws"), { key: adminKey });
    await socket.connected;
    const children = descendantsOf(api.child.pid!);
    assert.ok(children.length >= 2, `PostgreSQL and nats-server run under the api (${children.join(", ")})`);
    api.child.kill("SIGTERM");
    const close = await socket.closed;
    const { code, signal } = await api.exited;
    assert.deepEqual({ code, signal }, { code: 0, signal: null }, api.stderr());
    assert.equal(close.code, 1001);
    const logs = api.logs();
    assert.equal(logs.filter((l) => l.msg === "shutting down").length, 1);
    assert.deepEqual(
      logs.filter((l) => l.msg === "stopped" && typeof l.component === "string").map((l) => l.component),
      ["server", "ingest", "bus", "database"],
    );
    assert.ok(!logs.some((l) => l.level === "error"), api.stderr());
    assert.deepEqual(await allGone(children), [], "no process outlives the api");
    await socket.dispose();
  });

  test("SIGINT to the whole process group (a terminal's Ctrl-C), twice: one graceful path, exit 0, PostgreSQL last", async () => {
    const api = spawnApi(env, { detached: true });
    running = api;
    await api.waitForLog("parm api ready");
    assert.equal(api.logs().find((l) => l.msg === "parm api ready")!.adminKey, "file");
    const children = descendantsOf(api.child.pid!);
    process.kill(-api.child.pid!, "SIGINT");
    await new Promise((r) => setTimeout(r, 20));
    process.kill(-api.child.pid!, "SIGINT");
    const { code, signal } = await api.exited;
    assert.deepEqual({ code, signal }, { code: 0, signal: null }, api.stderr());
    const logs = api.logs();
    assert.equal(logs.filter((l) => l.msg === "shutting down").length, 1);
    assert.deepEqual(
      logs.filter((l) => l.msg === "stopped" && typeof l.component === "string").map((l) => l.component),
      ["server", "ingest", "bus", "database"],
    );
    assert.ok(!logs.some((l) => l.level === "error"), api.stderr());
    assert.deepEqual(await allGone(children), []);
  });
});
