/** @module bus — the job bus port (jobs work queue, job events, dead letters, cancellations, heartbeats, artifacts)
 *  over JetStream, in-process, or over IPC to another process's bus. */
export * from "./types.ts";
export { busNames, storeNames, type BusNames, type StoreNames } from "./names.ts";
export { createInProcessBus, type InProcessBusOptions } from "./in-process-bus.ts";
export { folderArtifactStore, memoryArtifactStore, ARTIFACT_CHUNK_BYTES } from "./in-process-stores.ts";
export { connectJetStreamBus, type JetStreamBusOptions } from "./jetstream-bus.ts";
export { startLocalNatsServer, findNatsServerBinary, LocalNatsServerError, type LocalNatsServer } from "./local-nats-server.ts";
export { createBus, BUS_MODES, type BusMode, type CreateBusOptions } from "./create-bus.ts";
export { connectIpcBus, type IpcBusOptions } from "./ipc-bus.ts";
export { serveBusOverIpc, type IpcBusServer } from "./ipc-bus-server.ts";
export { ipcEndpoint, type IpcEndpoint } from "./ipc-protocol.ts";
