import { test } from "node:test";
import assert from "node:assert/strict";
import { silentLogger } from "./server/logger.ts";
import { StopStack } from "./stop-stack.ts";

test("StopStack stops last-opened first, once, and keeps going past a failure", async () => {
  const order: string[] = [];
  const stack = new StopStack();
  stack.push("db", async () => void order.push("db"));
  stack.push("bus", async () => {
    order.push("bus");
    throw new Error("bus close failed");
  });
  stack.push("server", async () => void order.push("server"));
  const [first, second] = await Promise.all([stack.stopAll(silentLogger), stack.stopAll(silentLogger)]);
  assert.deepEqual(order, ["server", "bus", "db"]);
  assert.deepEqual([first, second], [false, false]);
});
