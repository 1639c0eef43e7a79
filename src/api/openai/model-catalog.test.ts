import { test } from "node:test";
import assert from "node:assert/strict";
import { toGlobalId } from "../../schema/common/index.ts";
import type { TenantServiceDeps } from "../services/deps.ts";
import { loadModelCatalog, modelObject } from "./model-catalog.ts";

const uuid = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;
const at = new Date("2026-01-01T00:00:00Z");

function depsWith(adapters: object[], models: object[]): TenantServiceDeps {
  return { db: { adapter: { findMany: async () => adapters }, model: { findMany: async () => models } } } as unknown as TenantServiceDeps;
}

test("names are the ids; a name already claimed (adapters first) is listed under its global id; global ids always resolve", async () => {
  const catalog = await loadModelCatalog(
    depsWith(
      [{ id: uuid(1), name: "shared", baseModelId: uuid(3), method: "PARM", dimensionNames: ["a", "b"], createdAt: at }],
      [
        { id: uuid(2), name: "shared", kind: "BASE", createdAt: at },
        { id: uuid(3), name: "backbone", kind: "ARM_BASE", createdAt: at },
      ],
    ),
  );
  assert.deepEqual(catalog.entries.map((e) => e.id), ["shared", toGlobalId("Model", uuid(2)), "backbone"]);
  assert.equal(catalog.find("shared")?.kind, "ADAPTER");
  assert.equal(catalog.find(toGlobalId("Model", uuid(2)))?.kind, "BASE");
  assert.equal(catalog.find(toGlobalId("Adapter", uuid(1)))?.id, "shared");
  assert.equal(catalog.find(toGlobalId("Adapter", uuid(2))), null, "a global id of the wrong type finds nothing");
  assert.equal(catalog.find("missing"), null);
  assert.deepEqual(modelObject(catalog.entries[0]!, catalog), {
    id: "shared",
    object: "model",
    created: at.getTime() / 1000,
    owned_by: "tenant",
    parm: { id: toGlobalId("Adapter", uuid(1)), kind: "ADAPTER", method: "PARM", base_model: "backbone", dimensions: ["a", "b"] },
  });
});
