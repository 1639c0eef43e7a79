/** @module api/ingest/nats-names — the api's view of the shared KV/object-store names (bus/names.ts). */
export { JOB_CANCELS_KV_BUCKET } from "../../contracts/index.ts";
export { storeNames as sharedNatsNames, type StoreNames as SharedNatsNames } from "../../bus/index.ts";
