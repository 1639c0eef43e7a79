import { test } from "node:test";
import assert from "node:assert/strict";
import { GraphQLError, locatedError, parse } from "graphql";
import { InvalidPaginationError } from "../../schema/common/index.ts";
import { requireAdmin, requireTenant, requireTenantAdmin } from "../context.ts";
import { ErrorCode, ForbiddenError, InternalServerError, RateLimitedError, UnauthenticatedError, UnreachableCaseError, toGraphQLError } from "./index.ts";

test("named errors carry their code, name and HTTP status", () => {
  const cases: [GraphQLError & { code: string }, string, number][] = [
    [new UnauthenticatedError(), ErrorCode.UNAUTHENTICATED, 401],
    [new ForbiddenError("no"), ErrorCode.FORBIDDEN, 403],
    [new RateLimitedError(2.2, 10), ErrorCode.RATE_LIMITED, 429],
  ];
  for (const [error, code, status] of cases) {
    assert.equal(error.code, code);
    assert.equal(error.extensions.code, code);
    assert.equal((error.extensions.http as { status: number }).status, status);
    assert.equal(error.name, error.constructor.name);
  }
  const limited = new RateLimitedError(2.2, 10);
  assert.equal(limited.retryAfter, 3);
  assert.equal(limited.extensions.retryAfter, 3);
  assert.equal((limited.extensions.http as { headers: Map<string, string> }).headers.get("retry-after"), "3");
  assert.equal(new RateLimitedError(0.01, 10).retryAfter, 1);
});

test("toGraphQLError keeps coded errors, maps input errors, masks everything else", () => {
  const node = parse("{ a }").definitions[0]!;
  const forbidden = new ForbiddenError("nope");
  assert.equal(toGraphQLError(locatedError(forbidden, [node], ["a"])), forbidden);
  const pagination = toGraphQLError(locatedError(new InvalidPaginationError("`first` must be at most 100", "first"), [node], ["a"]));
  assert.equal(pagination.extensions.code, "BAD_USER_INPUT");
  assert.equal(pagination.extensions.argument, "first");
  const bug = toGraphQLError(new TypeError("x is undefined"));
  assert.ok(bug instanceof InternalServerError);
  assert.equal(bug.message, "internal server error");
  assert.equal((bug.originalError as Error).message, "x is undefined");
  assert.ok(toGraphQLError("a string") instanceof InternalServerError);
  assert.ok(toGraphQLError(new GraphQLError("no code")) instanceof InternalServerError);
});

test("guards: anonymous → UNAUTHENTICATED; wrong kind or role → FORBIDDEN", () => {
  const anonymous = { auth: { kind: "anonymous" as const } };
  const admin = { auth: { kind: "admin" as const } };
  const member = { auth: { kind: "tenant" as const, tenantId: "t", keyId: "k", role: "MEMBER" as const, mutationsPerMinute: 1 } };
  const owner = { auth: { ...member.auth, role: "TENANT_ADMIN" as const } };
  for (const guard of [requireTenant, requireTenantAdmin, requireAdmin]) assert.throws(() => guard(anonymous), UnauthenticatedError);
  assert.throws(() => requireTenant(admin), ForbiddenError);
  assert.throws(() => requireTenantAdmin(member), /TENANT_ADMIN/);
  assert.throws(() => requireAdmin(owner), ForbiddenError);
  assert.equal(requireTenant(member), member.auth);
  assert.equal(requireTenantAdmin(owner), owner.auth);
  assert.equal(requireAdmin(admin), admin.auth);
  assert.throws(() => {
    throw new UnreachableCaseError("x" as never);
  }, /unreachable case: "x"/);
});
