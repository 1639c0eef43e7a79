/** @module bus — the job bus (jobs work queue, job events, dead letters) over JetStream or in-process. */
export * from "./types.ts";
export { busNames, storeNames, type BusNames, type StoreNames } from "./names.ts";
export { createInProcessBus, type InProcessBusOptions } from "./in-process-bus.ts";
export { connectJetStreamBus, type JetStreamBusOptions } from "./jetstream-bus.ts";
export { startLocalNatsServer, findNatsServerBinary, LocalNatsServerError, type LocalNatsServer } from "./local-nats-server.ts";
export { createBus, type CreateBusOptions } from "./create-bus.ts";
