/**
 * @module bus/create-bus — picks the job bus for a process. `mode` "auto" (default): NATS_URL → JetStream there;
 * else a local nats-server (if installed) under `<dataDir>/nats` → JetStream; else the in-process bus. "inprocess"
 * (PARM_BUS=inprocess): the in-process bus even when a nats-server is installed. "jetstream": JetStream or fail.
 * The in-process bus keeps its artifacts under `<dataDir>/artifacts`. Logs which, and why.
 */
import { join } from "node:path";
import { createInProcessBus } from "./in-process-bus.ts";
import { connectJetStreamBus } from "./jetstream-bus.ts";
import { startLocalNatsServer } from "./local-nats-server.ts";
import { BusArgumentError, BusTransportError, type BusLogger, type JobBus, type JobQueueSettings } from "./types.ts";

/** How a process chooses its bus (PARM_BUS). */
export const BUS_MODES = ["auto", "inprocess", "jetstream"] as const;
export type BusMode = (typeof BUS_MODES)[number];

export interface CreateBusOptions {
  /** Default "auto". */
  readonly mode?: BusMode;
  /** A NATS server with JetStream; when set it is used and nothing is spawned. */
  readonly natsUrl?: string;
  /** Data folder of this installation (PARM_DATA_DIR); a spawned server stores under `<dataDir>/nats`, the in-process
   *  bus its artifacts under `<dataDir>/artifacts`. */
  readonly dataDir: string;
  readonly log: BusLogger;
  /** nats-server binary to spawn; default: search (`findNatsServerBinary`); null: never spawn. */
  readonly natsServerBinary?: string | null;
  readonly namespace?: string;
  readonly settings?: Partial<JobQueueSettings>;
  /** In-process bus only: event sequences start after this (the highest one already ingested). */
  readonly eventSeqAfter?: number;
}

export async function createBus(options: CreateBusOptions): Promise<JobBus> {
  const { log } = options;
  const mode = options.mode ?? "auto";
  if (!BUS_MODES.includes(mode)) throw new BusArgumentError(`bus mode ${JSON.stringify(mode)} is not one of ${BUS_MODES.join(", ")}`);
  const inProcess = () => {
    const artifactsDir = join(options.dataDir, "artifacts");
    return createInProcessBus({ settings: options.settings, log, artifactsDir, eventSeqAfter: options.eventSeqAfter });
  };
  if (mode === "inprocess") {
    if (options.natsUrl) throw new BusArgumentError("PARM_BUS=inprocess and NATS_URL are both set; unset one of them");
    log.info(`job bus: in-process (PARM_BUS=inprocess); artifacts under ${join(options.dataDir, "artifacts")}; the embedded runner reaches it over IPC`);
    return inProcess();
  }
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
  if (mode === "jetstream") throw new BusTransportError("PARM_BUS=jetstream, but NATS_URL is unset and no nats-server is installed");
  log.warn(
    "job bus: in-process (NATS_URL unset and no nats-server installed); jobs, events and heartbeats live only in this " +
      `process (artifacts under ${join(options.dataDir, "artifacts")}), the embedded runner reaches it over IPC and ` +
      "remote runners cannot join. Install nats-server or set NATS_URL for durability and more runners.",
  );
  return inProcess();
}
