/**
 * @module api/ingest/runner-registry — reads runner heartbeats from KV `runners` (docs/runners.md) for the admin
 * `runners` query. Connects lazily on first use; `close()` releases the connection (the api server calls it on
 * stop when the registry is one of its services).
 */
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Kvm, type KV } from "@nats-io/kv";
import { RUNNER_HEARTBEAT_TTL_MS, parseRunnerHeartbeat, type RunnerHeartbeat } from "../../contracts/index.ts";
import { sharedNatsNames } from "./nats-names.ts";

export interface RunnerInfo extends RunnerHeartbeat {
  /** Extra fields runners write beside the contract's (device name, threads per job). */
  readonly deviceName: string | null;
  readonly threads: number | null;
}

export interface RunnerRegistry {
  /** Live runners (expired heartbeats are gone: bucket max_age), sorted by id; invalid entries are skipped. */
  listRunners(): Promise<RunnerInfo[]>;
  close(): Promise<void>;
}

/** Heartbeats from an opened KV bucket. */
export async function readRunnerHeartbeats(kv: KV, onInvalid: (key: string, error: unknown) => void = () => {}): Promise<RunnerInfo[]> {
  const out: RunnerInfo[] = [];
  for await (const key of await kv.keys()) {
    const entry = await kv.get(key);
    if (!entry || entry.operation !== "PUT") continue;
    try {
      const raw = entry.json<Record<string, unknown>>();
      out.push({
        ...parseRunnerHeartbeat(raw),
        deviceName: typeof raw.deviceName === "string" ? raw.deviceName : null,
        threads: typeof raw.threads === "number" ? raw.threads : null,
      });
    } catch (error) {
      onInvalid(key, error);
    }
  }
  return out.sort((a, b) => a.runnerId.localeCompare(b.runnerId));
}

export function createRunnerRegistry(options: { natsUrl: string; namespace?: string; heartbeatTtlMs?: number }): RunnerRegistry {
  const names = sharedNatsNames(options.namespace ?? "");
  let opened: Promise<{ nc: NatsConnection; kv: KV }> | null = null;
  const open = () =>
    (opened ??= (async () => {
      const nc = await connect({ servers: options.natsUrl, name: "parm-api-runners", maxReconnectAttempts: -1 });
      const kv = await new Kvm(nc).create(names.runnersBucket, { ttl: options.heartbeatTtlMs ?? RUNNER_HEARTBEAT_TTL_MS, history: 1 });
      return { nc, kv };
    })().catch((error: unknown) => {
      opened = null;
      throw error;
    }));
  return {
    async listRunners() {
      return readRunnerHeartbeats((await open()).kv);
    },
    async close() {
      if (!opened) return;
      const { nc } = await opened.catch(() => ({ nc: null }));
      await nc?.drain().catch(() => nc?.close());
      opened = null;
    },
  };
}
