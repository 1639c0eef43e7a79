import { test } from "node:test";
import assert from "node:assert/strict";
import { cancelledBeforeRunReason, cancelledWhileRunningReason } from "./cancel-reason.ts";

test("a job never started is 'cancelled before it started'; one an earlier attempt started says how long ago", () => {
  const now = new Date("2026-01-01T00:02:00Z");
  assert.equal(cancelledBeforeRunReason([], now), "cancelled before it started");
  const stored = [
    { event: { type: "started" }, time: new Date("2026-01-01T00:00:30Z") },
    { event: { type: "progress" }, time: new Date("2026-01-01T00:01:00Z") },
    { event: { type: "started" }, time: new Date("2026-01-01T00:01:30Z") },
  ];
  assert.equal(cancelledBeforeRunReason(stored, now), "cancelled while running: an earlier attempt started 90 s ago and was not resumed");
  assert.equal(cancelledWhileRunningReason(90.4), "cancelled while running, after 90 s");
  assert.equal(cancelledWhileRunningReason(-1), "cancelled while running, after 0 s");
});
