import { test } from "node:test";
import assert from "node:assert/strict";
import { InvalidGlobalIdError, fromGlobalId, toGlobalId } from "./global-id.ts";

const UUID = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";

test("toGlobalId is base64 of Type:uuid and round-trips (uuid lower-cased)", () => {
  const id = toGlobalId("Dataset", UUID);
  assert.equal(Buffer.from(id, "base64").toString("utf8"), `Dataset:${UUID}`);
  assert.deepEqual(fromGlobalId(id), { typeName: "Dataset", uuid: UUID });
  assert.deepEqual(fromGlobalId(toGlobalId("Job", UUID.toUpperCase())), { typeName: "Job", uuid: UUID });
  assert.equal(fromGlobalId(id, "Dataset").uuid, UUID);
});

test("toGlobalId refuses bad type names and non-uuids (programming errors)", () => {
  assert.throws(() => toGlobalId("dataset", UUID), TypeError);
  assert.throws(() => toGlobalId("Dataset", "42"), TypeError);
});

test("fromGlobalId rejects malformed ids with InvalidGlobalIdError naming the problem", () => {
  const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
  for (const bad of ["", "!!!", "a b", b64("Dataset"), b64(`Dataset:`), b64(`:${UUID}`), b64(`dataset:${UUID}`), b64(`Dataset:${UUID}x`), b64(`Data set:${UUID}`), "A".repeat(300)]) {
    assert.throws(
      () => fromGlobalId(bad),
      (e: unknown) => e instanceof InvalidGlobalIdError && e.code === "INVALID_GLOBAL_ID" && /invalid id/.test(e.message),
      JSON.stringify(bad),
    );
  }
});

test("fromGlobalId with an expected type rejects ids of other types", () => {
  const id = toGlobalId("Tenant", UUID);
  assert.throws(() => fromGlobalId(id, "ApiKey"), /expected a ApiKey id, got a Tenant id/);
});
