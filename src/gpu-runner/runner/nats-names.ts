/** @module gpu-runner/runner/nats-names — the runner's view of the shared KV/object-store names (bus/names.ts). */
export { JOB_CANCELS_KV_BUCKET } from "../../contracts/index.ts";
export { storeNames as runnerNatsNames, type StoreNames as RunnerNatsNames } from "../../bus/index.ts";
