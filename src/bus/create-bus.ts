/**
 * @module bus/create-bus — picks the job bus for a process: NATS_URL → JetStream there; else a local nats-server
 * (if installed) under `<dataDir>/nats` → JetStream; else the in-process bus. Logs which, and why.
 */
import { join } from "node:path";
import { createInProcessBus } from "./in-process-bus.ts";
import { connectJetStreamBus } from "./jetstream-bus.ts";
import { startLocalNatsServer } from "./local-nats-server.ts";
import type { BusLogger, JobBus, JobQueueSettings } from "./types.ts";

export interface CreateBusOptions {
  /** A NATS server with JetStream; when set it is used and nothing is spawned. */
  readonly natsUrl?: string;
  /** Data folder of this installation (PARM_DATA_DIR); a spawned server stores under `<dataDir>/nats`. */
  readonly dataDir: string;
  readonly log: BusLogger;
  /** nats-server binary to spawn; default: search (`findNatsServerBinary`); null: never spawn. */
  readonly natsServerBinary?: string | null;
  readonly namespace?: string;
  readonly settings?: Partial<JobQueueSettings>;
}

export async function createBus(options: CreateBusOptions): Promise<JobBus> {
  const { log } = options;
  if (options.natsUrl) {
    const bus = await connectJetStreamBus(options.natsUrl, { namespace: options.namespace, settings: options.settings, log });
    log.info(`job bus: JetStream at ${options.natsUrl} (NATS_URL)`);
    return bus;
  }
  const server = await startLocalNatsServer(join(options.dataDir, "nats"), log, { binary: options.natsServerBinary });
  if (server) {
    try {
      const bus = await connectJetStreamBus(server.url, {
        namespace: options.namespace,
        settings: options.settings,
        log,
        onClose: () => server.stop(),
      });
      log.info(`job bus: JetStream on a local nats-server at ${server.url} (NATS_URL unset)`);
      return bus;
    } catch (error) {
      await server.stop();
      throw error;
    }
  }
  log.warn(
    "job bus: in-process (NATS_URL unset and no nats-server installed); jobs and events live only in this process " +
      "and remote runners cannot join. Install nats-server or set NATS_URL for durability.",
  );
  return createInProcessBus({ settings: options.settings, log });
}
