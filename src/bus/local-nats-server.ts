/**
 * @module bus/local-nats-server — starts a private nats-server with JetStream for single-machine runs
 * (`npm start` without NATS_URL): `nats-server -js -sd <storeDir> -a 127.0.0.1 -p <free port>`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants as fsConstants, mkdirSync } from "node:fs";
import { createServer, connect as connectTcp } from "node:net";
import { delimiter, join } from "node:path";
import type { BusLogger } from "./types.ts";

export interface LocalNatsServer {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  readonly storeDir: string;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s) and resolves when it has exited. */
  stop(): Promise<void>;
}

/** The server did not start or did not accept connections in time. */
export class LocalNatsServerError extends Error {
  override readonly name = "LocalNatsServerError";
  readonly code = "LOCAL_NATS_SERVER_FAILED" as const;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** `NATS_SERVER_BIN`, then `nats-server` on PATH, then /usr/sbin, /usr/bin, /usr/local/bin; null when none. */
export function findNatsServerBinary(env: NodeJS.ProcessEnv = process.env): string | null {
  const explicit = env.NATS_SERVER_BIN;
  if (explicit) return isExecutable(explicit) ? explicit : null;
  const dirs = [...(env.PATH ?? "").split(delimiter).filter(Boolean), "/usr/sbin", "/usr/bin", "/usr/local/bin"];
  for (const dir of dirs) {
    const candidate = join(dir, "nats-server");
    if (isExecutable(candidate)) return candidate;
  }
  return null;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connectTcp(port, "127.0.0.1", () => {
      socket.end();
      resolve(true);
    });
    socket.on("error", () => resolve(false));
  });
}

function waitForExit(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
}

/**
 * Spawns nats-server with JetStream storing under `storeDir` (created if missing), on 127.0.0.1 and a free port.
 * Returns null when no nats-server binary is installed (`binary: null` forces that). Throws
 * {@link LocalNatsServerError} when the binary exists but the server does not come up within `startTimeoutMs`.
 */
export async function startLocalNatsServer(
  storeDir: string,
  log: BusLogger,
  options: { binary?: string | null; startTimeoutMs?: number } = {},
): Promise<LocalNatsServer | null> {
  const binary = options.binary === undefined ? findNatsServerBinary() : options.binary;
  if (binary === null || !isExecutable(binary)) return null;
  mkdirSync(storeDir, { recursive: true });
  const port = await freePort();
  // Its own process group: a terminal's Ctrl-C reaches only the api, which closes the bus before PostgreSQL.
  const child = spawn(binary, ["-js", "-sd", storeDir, "-a", "127.0.0.1", "-p", String(port)], {
    stdio: ["ignore", "ignore", "pipe"],
    detached: true,
  });
  let stderrTail = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderrTail = (stderrTail + chunk.toString("utf8")).slice(-2000);
  });
  const exited = waitForExit(child);
  let stopping = false;
  // The server must not outlive this process, however it ends (another library's signal hook may call exit()).
  const killOnExit = () => child.kill("SIGTERM");
  process.once("exit", killOnExit);
  void exited.then(() => {
    process.removeListener("exit", killOnExit);
    if (!stopping) log.warn(`nats-server (pid ${child.pid}) exited unexpectedly: ${stderrTail.trim().split("\n").pop() ?? ""}`);
  });
  const deadline = Date.now() + (options.startTimeoutMs ?? 10_000);
  while (!(await portOpen(port))) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new LocalNatsServerError(`nats-server exited during start (code ${child.exitCode}): ${stderrTail.trim()}`);
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new LocalNatsServerError(`nats-server did not accept connections on 127.0.0.1:${port} in time`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  log.info(`started nats-server with JetStream on 127.0.0.1:${port} (store ${storeDir})`);
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    pid: child.pid ?? -1,
    storeDir,
    async stop() {
      if (stopping) return exited;
      stopping = true;
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(killer);
    },
  };
}
