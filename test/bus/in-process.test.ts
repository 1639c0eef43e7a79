/** @module test/bus/in-process — the bus contract against the in-process implementation. */
import { createInProcessBus } from "../../src/bus/index.ts";
import { runBusContract } from "./contract.ts";

runBusContract("in-process", async (settings) => createInProcessBus({ settings }));
