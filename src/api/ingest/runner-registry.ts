/**
 * @module api/ingest/runner-registry — reads runner heartbeats from the bus (`bus.runners`: KV `runners` on NATS,
 * docs/runners.md) for the admin `runners` query and the reconciler. No connection of its own.
 */
import type { RunnerHeartbeats } from "../../bus/index.ts";
import { parseRunnerHeartbeat, type RunnerHeartbeat } from "../../contracts/index.ts";

export interface RunnerInfo extends RunnerHeartbeat {
  /** Extra fields runners write beside the contract's (device name, threads per job). */
  readonly deviceName: string | null;
  readonly threads: number | null;
}

export interface RunnerRegistry {
  /** Live runners (expired heartbeats are gone), sorted by id; invalid entries are skipped. */
  listRunners(): Promise<RunnerInfo[]>;
}

/** The live heartbeats, validated; `onInvalid` hears of each entry that is not a RunnerHeartbeat. */
export async function readRunnerHeartbeats(runners: Pick<RunnerHeartbeats, "list">, onInvalid: (key: string, error: unknown) => void = () => {}): Promise<RunnerInfo[]> {
  const out: RunnerInfo[] = [];
  for (const { runnerId, heartbeat } of await runners.list()) {
    try {
      const raw = (heartbeat ?? {}) as Record<string, unknown>;
      out.push({
        ...parseRunnerHeartbeat(raw),
        deviceName: typeof raw.deviceName === "string" ? raw.deviceName : null,
        threads: typeof raw.threads === "number" ? raw.threads : null,
      });
    } catch (error) {
      onInvalid(runnerId, error);
    }
  }
  return out.sort((a, b) => a.runnerId.localeCompare(b.runnerId));
}

export function createRunnerRegistry(runners: Pick<RunnerHeartbeats, "list">): RunnerRegistry {
  return { listRunners: () => readRunnerHeartbeats(runners) };
}
