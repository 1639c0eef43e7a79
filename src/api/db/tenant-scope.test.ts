/** @module api/db/tenant-scope.test — the pure argument rewriting of the tenant-scoped client. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { assertTenantId, MODEL_OPERATIONS, scopeArgs } from "./tenant-scope.ts";
import { InvalidTenantIdError, TenantOperationUnsupportedError, TenantScopeViolationError } from "./errors.ts";

const A = "0b7e2f9c-1d2e-4f3a-8b4c-5d6e7f8a9b0c";
const B = "1c8f3a0d-2e3f-4a4b-9c5d-6e7f8a9b0c1d";

describe("scopeArgs", () => {
  test("reads and deletes get tenantId in where, keeping the caller's filters", () => {
    for (const op of ["findUnique", "findFirst", "findMany", "count", "aggregate", "groupBy", "delete", "deleteMany"]) {
      assert.deepEqual(scopeArgs("Job", op, { where: { status: "QUEUED" }, take: 5 }, A), {
        where: { status: "QUEUED", tenantId: A },
        take: 5,
      }, op);
    }
    assert.deepEqual(scopeArgs("Job", "findMany", undefined, A), { where: { tenantId: A } });
  });

  test("a where naming this tenant (any case) passes, another tenant or a filter object is a violation", () => {
    assert.deepEqual(scopeArgs("Job", "findMany", { where: { tenantId: A.toUpperCase() } }, A), { where: { tenantId: A } });
    assert.throws(() => scopeArgs("Job", "findMany", { where: { tenantId: B } }, A), TenantScopeViolationError);
    assert.throws(() => scopeArgs("Job", "findMany", { where: { tenantId: { in: [A, B] } } }, A), TenantScopeViolationError);
  });

  test("create and createMany set tenantId on every row", () => {
    assert.deepEqual(scopeArgs("Job", "create", { data: { kind: "TRAIN" } }, A), { data: { kind: "TRAIN", tenantId: A } });
    assert.deepEqual(scopeArgs("Job", "createMany", { data: [{ kind: "TRAIN" }, { kind: "GENERATE", tenantId: A }] }, A), {
      data: [{ kind: "TRAIN", tenantId: A }, { kind: "GENERATE", tenantId: A }],
    });
    assert.deepEqual(scopeArgs("Job", "createManyAndReturn", { data: { kind: "TRAIN" } }, A), { data: { kind: "TRAIN", tenantId: A } });
  });

  test("a created row naming another tenant or the tenant relation is refused", () => {
    assert.throws(() => scopeArgs("Job", "create", { data: { kind: "TRAIN", tenantId: B } }, A), TenantScopeViolationError);
    assert.throws(() => scopeArgs("Job", "createMany", { data: [{ tenantId: A }, { tenantId: B }] }, A), TenantScopeViolationError);
    assert.throws(
      () => scopeArgs("Job", "create", { data: { kind: "TRAIN", tenant: { connect: { id: B } } } }, A),
      TenantScopeViolationError,
    );
  });

  test("updates are filtered by tenant and may not move a row", () => {
    assert.deepEqual(scopeArgs("Job", "update", { where: { id: "x" }, data: { progress: 1 } }, A), {
      where: { id: "x", tenantId: A },
      data: { progress: 1 },
    });
    assert.deepEqual(scopeArgs("Job", "updateMany", { data: { progress: 1 } }, A), { where: { tenantId: A }, data: { progress: 1 } });
    assert.throws(() => scopeArgs("Job", "update", { where: { id: "x" }, data: { tenantId: B } }, A), TenantScopeViolationError);
    assert.throws(() => scopeArgs("Job", "updateManyAndReturn", { data: { tenant: { connect: { id: B } } } }, A), TenantScopeViolationError);
  });

  test("upsert scopes where, stamps create and checks update", () => {
    assert.deepEqual(scopeArgs("Job", "upsert", { where: { id: "x" }, create: { kind: "TRAIN" }, update: { progress: 1 } }, A), {
      where: { id: "x", tenantId: A },
      create: { kind: "TRAIN", tenantId: A },
      update: { progress: 1 },
    });
    assert.throws(
      () => scopeArgs("Job", "upsert", { where: { id: "x" }, create: {}, update: { tenantId: B } }, A),
      TenantScopeViolationError,
    );
  });

  test("the tenants table is scoped on id and read-only", () => {
    assert.deepEqual(scopeArgs("Tenant", "findMany", {}, A), { where: { id: A } });
    assert.deepEqual(scopeArgs("Tenant", "findUnique", { where: { name: "n" } }, A), { where: { name: "n", id: A } });
    assert.throws(() => scopeArgs("Tenant", "findUnique", { where: { id: B } }, A), TenantScopeViolationError);
    for (const op of ["create", "createMany", "update", "updateMany", "upsert", "delete", "deleteMany"]) {
      assert.throws(() => scopeArgs("Tenant", op, { data: {} }, A), TenantOperationUnsupportedError, op);
    }
  });

  test("an operation it does not know is refused, not passed through", () => {
    assert.throws(() => scopeArgs("Job", "findRaw", {}, A), (error: unknown) => {
      assert.ok(error instanceof TenantOperationUnsupportedError);
      assert.equal(error.code, "DB_TENANT_OPERATION_UNSUPPORTED");
      assert.match(error.message, /Job\.findRaw/);
      return true;
    });
    assert.equal(new Set(MODEL_OPERATIONS).size, MODEL_OPERATIONS.length);
  });

  test("the caller's args object is not mutated", () => {
    const args = { where: { status: "QUEUED" }, data: { kind: "TRAIN" } };
    scopeArgs("Job", "findMany", args, A);
    scopeArgs("Job", "create", args, A);
    assert.deepEqual(args, { where: { status: "QUEUED" }, data: { kind: "TRAIN" } });
  });
});

describe("assertTenantId", () => {
  test("accepts a UUID (normalised to lower case) and names what is wrong otherwise", () => {
    assert.equal(assertTenantId(A.toUpperCase()), A);
    for (const bad of ["", "tenant-a", `${A}'; --`, 42, null]) {
      assert.throws(() => assertTenantId(bad), (error: unknown) => {
        assert.ok(error instanceof InvalidTenantIdError);
        assert.equal(error.code, "DB_TENANT_ID_INVALID");
        assert.match(error.message, /tenant id must be a UUID/);
        return true;
      });
    }
  });
});
