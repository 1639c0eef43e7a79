import { test } from "node:test";
import assert from "node:assert/strict";
test("services are reachable", async () => {
  assert.ok(process.env.DATABASE_URL);
});
