import { test } from "node:test";
import assert from "node:assert/strict";
import { Kind, parse, type FragmentDefinitionNode, type OperationDefinitionNode } from "graphql";
import { RateLimitedError } from "../../errors/index.ts";
import { TokenBucketLimiter, countRootFields, enforceMutationRate } from "./index.ts";

function opAndFragments(source: string) {
  const doc = parse(source);
  const operation = doc.definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION) as OperationDefinitionNode;
  const fragments: Record<string, FragmentDefinitionNode> = {};
  for (const d of doc.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments[d.name.value] = d;
  return { operation, fragments };
}

test("a bucket holds perMinute tokens and refills continuously", () => {
  let now = 0;
  const limiter = new TokenBucketLimiter(() => now);
  for (let i = 0; i < 6; i++) assert.equal(limiter.take("t", 6).allowed, true, `take ${i}`);
  const refused = limiter.take("t", 6);
  assert.equal(refused.allowed, false);
  assert.ok(Math.abs(refused.retryAfter - 10) < 1e-9, String(refused.retryAfter)); // 6/min → one token per 10 s
  now = 9_999;
  assert.equal(limiter.take("t", 6).allowed, false);
  now = 10_000;
  assert.equal(limiter.take("t", 6).allowed, true);
  // Another key has its own full bucket.
  assert.equal(limiter.take("u", 6, 6).allowed, true);
  // Idle time never overfills the bucket.
  now = 10_000_000;
  assert.equal(limiter.take("t", 6, 6).allowed, true);
  assert.equal(limiter.take("t", 6).allowed, false);
});

test("a cost above the capacity can never pass; a lowered limit caps the tokens", () => {
  let now = 0;
  const limiter = new TokenBucketLimiter(() => now);
  assert.deepEqual(limiter.take("t", 3, 4), { allowed: false, retryAfter: 60 });
  assert.equal(limiter.take("t", 100).allowed, true);
  assert.equal(limiter.take("t", 2, 2).allowed, true); // capacity now 2, tokens capped at 2
  assert.equal(limiter.take("t", 2).allowed, false);
  now = 30_000; // 2/min → one token per 30 s
  assert.equal(limiter.take("t", 2).allowed, true);
  assert.equal(limiter.take("t", 0).allowed, false);
});

test("countRootFields counts aliases and fragment fields, not __typename", () => {
  const { operation, fragments } = opAndFragments(`mutation {
    a: createDimension(input: { name: "a" }) { __typename }
    b: createDimension(input: { name: "b" }) { __typename }
    __typename
    ...More
    ... on Mutation { revokeApiKey(input: { id: "x" }) { __typename } }
  }
  fragment More on Mutation { createApiKey(input: { name: "k" }) { __typename } ...More }`);
  assert.equal(countRootFields(operation, fragments), 4);
});

test("enforceMutationRate limits tenant mutations only and throws RATE_LIMITED with retryAfter", () => {
  let now = 0;
  const limiter = new TokenBucketLimiter(() => now);
  const tenant = { auth: { kind: "tenant" as const, tenantId: "t1", keyId: "k", role: "MEMBER" as const, mutationsPerMinute: 2 } };
  const m = opAndFragments(`mutation { x: viewerless y: viewerless }`);
  const q = opAndFragments(`{ a b c d e }`);
  enforceMutationRate(limiter, tenant, m.operation, m.fragments);
  let limited = 0;
  assert.throws(
    () => enforceMutationRate(limiter, tenant, m.operation, m.fragments, () => limited++),
    (e: unknown) => e instanceof RateLimitedError && e.retryAfter === 60 && e.extensions.code === "RATE_LIMITED" && e.extensions.retryAfter === 60,
  );
  assert.equal(limited, 1);
  for (let i = 0; i < 10; i++) enforceMutationRate(limiter, tenant, q.operation, q.fragments);
  for (let i = 0; i < 10; i++) enforceMutationRate(limiter, { auth: { kind: "admin" } }, m.operation, m.fragments);
});
