/**
 * @module test/api/start-inprocess — `npm start` (src/api/main.ts) as a process with PARM_BUS=inprocess (what a
 * machine without nats-server gets): no nats-server is spawned, the embedded runner starts as a child process whose
 * bus reaches the api's in-process bus over IPC, its heartbeat shows in the admin `runners` query; one SIGTERM stops
 * the runner first, then the rest, exit 0, nothing left running. A runner whose api is killed outright stops by
 * itself when the IPC channel closes.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { postGraphQL } from "../helpers/graphql.ts";
import { descendantsOf, isAlive, spawnApi, type ApiProcess } from "../helpers/api-process.ts";

const KEY_LINE = /^\s+(parm_admin_[A-Za-z0-9_-]{43})$/m;

async function allGone(pids: number[], ms = 20_000): Promise<number[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const alive = pids.filter(isAlive);
    if (alive.length === 0 || Date.now() > deadline) return alive;
    await new Promise((r) => setTimeout(r, 100));
  }
}

const commandOf = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
  } catch {
    return "";
  }
};

describe("npm start with PARM_BUS=inprocess: the embedded runner over IPC", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "parm-start-inprocess-"));
  const env = { PARM_DATA_DIR: dataDir, PARM_BUS: "inprocess", PARM_EMBEDDED_RUNNER: "1", PARM_RUNNER_THREADS: "1", PARM_LOG_LEVEL: "debug", PARM_TEST: "1" };
  const started: ApiProcess[] = [];
  after(() => {
    for (const api of started) {
      for (const pid of descendantsOf(api.child.pid!)) process.kill(pid, "SIGKILL");
      if (api.child.exitCode === null) api.child.kill("SIGKILL");
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("starts without nats-server, the runner heartbeats over IPC; one SIGTERM stops runner then api, exit 0, nothing left", async () => {
    const api = spawnApi(env);
    started.push(api);
    const ready = await api.waitForLog("parm api ready");
    assert.equal(ready.bus, "in-process");
    const runnerStart = api.logs().find((l) => l.msg === "embedded runner started");
    assert.equal(runnerStart?.bus, "in-process over IPC", api.stderr());
    assert.ok(!api.logs().some((l) => /started nats-server/.test(l.msg)), "no nats-server spawned");
    const adminKey = await (async () => {
      for (let i = 0; i < 100; i++) {
        const key = KEY_LINE.exec(api.stdout())?.[1];
        if (key) return key;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`no admin key printed:\n${api.stdout()}`);
    })();
    let runners: { runnerId: string; device: string; kinds: string[] }[] = [];
    for (let i = 0; i < 600 && runners.length === 0; i++) {
      const res = await postGraphQL<any>(String(ready.graphql), `{ runners { runnerId device kinds } }`, {}, { key: adminKey });
      runners = res.data?.runners ?? [];
      if (runners.length === 0) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(runners.length, 1, api.stderr());
    assert.equal(runners[0].device, "cpu");
    assert.equal(runners[0].kinds.length, 4);
    const children = descendantsOf(api.child.pid!);
    const runnerPid = Number(runnerStart!.pid);
    assert.ok(children.includes(runnerPid), "the runner is the api's child");
    api.child.kill("SIGTERM");
    const { code, signal } = await api.exited;
    assert.deepEqual({ code, signal }, { code: 0, signal: null }, api.stderr());
    const stops = api.logs().filter((l) => l.msg === "stopped" && typeof l.component === "string").map((l) => l.component);
    assert.deepEqual(stops, ["embedded runner", "server", "ingest", "bus", "database"], api.stderr());
    assert.ok(api.logs().some((l) => /^runner .* stopped$/.test(l.msg)), "the runner stopped gracefully");
    assert.ok(!api.logs().some((l) => l.level === "error"), api.stderr());
    assert.deepEqual(await allGone(children), [], "no process outlives the api");
  });

  test("a runner whose api is killed outright (SIGKILL) stops by itself when the IPC channel closes", async () => {
    const api = spawnApi(env);
    started.push(api);
    await api.waitForLog("parm api ready");
    const runnerPid = Number(api.logs().find((l) => l.msg === "embedded runner started")!.pid);
    for (let i = 0; i < 600 && !api.logs().some((l) => /^runner .* ready/.test(l.msg)); i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(isAlive(runnerPid) && /gpu-runner\/main\.ts/.test(commandOf(runnerPid)), api.stderr());
    const others = descendantsOf(api.child.pid!).filter((pid) => pid !== runnerPid);
    api.child.kill("SIGKILL");
    await api.exited;
    assert.deepEqual(await allGone([runnerPid]), [], "the runner exits once its channel closes");
    for (const pid of others) if (isAlive(pid)) process.kill(pid, "SIGKILL"); // the embedded PostgreSQL of the killed api
  });
});
