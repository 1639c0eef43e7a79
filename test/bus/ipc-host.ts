/**
 * @module test/bus/ipc-host — a child process that owns an in-process bus and serves it over its IPC channel, for
 * the IPC adapter's contract run (test/bus/ipc.test.ts). Settings come from PARM_TEST_BUS_SETTINGS (JSON); artifacts
 * go under PARM_TEST_ARTIFACTS_DIR when set. Exits when the channel closes.
 */
import { createInProcessBus, ipcEndpoint, serveBusOverIpc } from "../../src/bus/index.ts";

const bus = createInProcessBus({
  settings: JSON.parse(process.env.PARM_TEST_BUS_SETTINGS ?? "{}"),
  artifactsDir: process.env.PARM_TEST_ARTIFACTS_DIR || undefined,
});
const server = serveBusOverIpc(bus, ipcEndpoint(process));
process.once("disconnect", () => {
  void server.close().then(() => bus.close()).then(() => process.exit(0));
});
