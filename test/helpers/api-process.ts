/**
 * @module test/helpers/api-process — `npm start`'s entry (src/api/main.ts) as a child process on its own data
 * folder, with its JSON log lines (stderr), its stdout (the admin key is printed there), and the process tree it
 * spawned (PostgreSQL, nats-server, runner) read from /proc.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

export interface LogLine {
  level: string;
  msg: string;
  [field: string]: unknown;
}

export interface ApiProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  logs(): LogLine[];
  /** Resolves with the first log line matching `msg` (rejects if the process exits first or after `ms`). */
  waitForLog(msg: string, ms?: number): Promise<LogLine>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts main.ts with `env` over a copy of process.env without DATABASE_URL / NATS_URL (so it embeds both). */
export function spawnApi(env: Record<string, string>, options: { detached?: boolean } = {}): ApiProcess {
  const base = { ...process.env };
  delete base.DATABASE_URL;
  delete base.DATABASE_APP_URL;
  delete base.NATS_URL;
  delete base.PARM_ADMIN_KEY;
  const child = spawn(process.execPath, ["--import", "@swc-node/register/esm-register", "src/api/main.ts"], {
    cwd: REPO_ROOT,
    env: { ...base, HOST: "127.0.0.1", PORT: "0", PARM_EMBEDDED_RUNNER: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: options.detached ?? false,
  });
  let out = "";
  let err = "";
  child.stdout!.on("data", (c: Buffer) => (out += c.toString("utf8")));
  child.stderr!.on("data", (c: Buffer) => (err += c.toString("utf8")));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const logs = (): LogLine[] =>
    err
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as LogLine];
        } catch {
          return [];
        }
      });
  const waitForLog = async (msg: string, ms = 120_000): Promise<LogLine> => {
    const deadline = Date.now() + ms;
    let done = false;
    void exited.then(() => (done = true));
    for (;;) {
      const hit = logs().find((l) => l.msg === msg);
      if (hit) return hit;
      if (done || Date.now() > deadline) throw new Error(`no "${msg}" log line (exited: ${done}):\n${err}\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return { child, stdout: () => out, stderr: () => err, logs, waitForLog, exited };
}

/** Process ids of every live descendant of `pid` (Linux /proc). */
export function descendantsOf(pid: number): number[] {
  const parents = new Map<number, number[]>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, "utf8");
    } catch {
      continue;
    }
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    parents.set(ppid, [...(parents.get(ppid) ?? []), Number(name)]);
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of parents.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

/** Whether `pid` is a live (not zombie) process. */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}
