/** @module api/plugins/rate-limit
 *  Per-tenant mutation rate limit: a token bucket per tenant holding `Tenant.mutationsPerMinute` tokens, refilled
 *  continuously at that rate per minute. Each root field of a mutation operation costs one token (aliases count
 *  separately), checked before execution; when the bucket is short the whole operation is refused with the
 *  top-level error RATE_LIMITED (HTTP 429, `Retry-After` header, `extensions.retryAfter` seconds). The admin
 *  key and queries/subscriptions are not limited. Plain HTTP routes that start work (the OpenAI-compatible
 *  completions) spend from the same bucket through `enforceTenantRate` (HttpRouteDeps.rateLimit). State is per API
 *  process. */
import type { ApolloServerPlugin } from "@apollo/server";
import { Kind, type FragmentDefinitionNode, type OperationDefinitionNode, type SelectionSetNode } from "graphql";
import type { ApiContext } from "../../context.ts";
import { RateLimitedError, UnreachableCaseError } from "../../errors/index.ts";

interface Bucket {
  tokens: number;
  updatedAt: number;
  capacity: number;
}

export interface TakeResult {
  allowed: boolean;
  /** Seconds until `cost` tokens are available (0 when allowed). */
  retryAfter: number;
}

export class TokenBucketLimiter {
  private readonly buckets = new Map<string, Bucket>();
  constructor(private readonly now: () => number = () => Date.now()) {}

  /** Takes `cost` tokens from `key`'s bucket of `perMinute` capacity, or reports how long to wait. */
  take(key: string, perMinute: number, cost = 1): TakeResult {
    if (!(perMinute > 0)) return { allowed: false, retryAfter: 60 };
    const now = this.now();
    const ratePerMs = perMinute / 60_000;
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = { tokens: perMinute, updatedAt: now, capacity: perMinute };
      this.buckets.set(key, bucket);
    }
    if (bucket.capacity !== perMinute) {
      bucket.tokens = Math.min(bucket.tokens, perMinute);
      bucket.capacity = perMinute;
    }
    bucket.tokens = Math.min(perMinute, bucket.tokens + (now - bucket.updatedAt) * ratePerMs);
    bucket.updatedAt = now;
    if (cost > perMinute) return { allowed: false, retryAfter: 60 };
    if (bucket.tokens >= cost) {
      bucket.tokens -= cost;
      return { allowed: true, retryAfter: 0 };
    }
    return { allowed: false, retryAfter: (cost - bucket.tokens) / ratePerMs / 1000 };
  }
}

/** Root fields an operation selects (fragments expanded, `__typename` not counted). */
export function countRootFields(
  operation: OperationDefinitionNode,
  fragments: Record<string, FragmentDefinitionNode | undefined>,
): number {
  const seen = new Set<string>();
  const count = (set: SelectionSetNode): number => {
    let n = 0;
    for (const s of set.selections) {
      switch (s.kind) {
        case Kind.FIELD:
          if (s.name.value !== "__typename") n += 1;
          break;
        case Kind.INLINE_FRAGMENT:
          n += count(s.selectionSet);
          break;
        case Kind.FRAGMENT_SPREAD: {
          const name = s.name.value;
          const fragment = fragments[name];
          if (fragment && !seen.has(name)) {
            seen.add(name);
            n += count(fragment.selectionSet);
          }
          break;
        }
        default:
          throw new UnreachableCaseError(s);
      }
    }
    return n;
  };
  return count(operation.selectionSet);
}

/** Throws RateLimitedError when a tenant's mutation operation exceeds its budget. No-op for other callers/operations. */
export function enforceMutationRate(
  limiter: TokenBucketLimiter,
  ctx: Pick<ApiContext, "auth">,
  operation: OperationDefinitionNode,
  fragments: Record<string, FragmentDefinitionNode | undefined>,
  onLimited?: () => void,
): void {
  if (operation.operation !== "mutation") return;
  enforceTenantRate(limiter, ctx, Math.max(1, countRootFields(operation, fragments)), onLimited);
}

/** Takes `cost` tokens from a tenant caller's bucket (the one mutations use; HTTP routes that start work, e.g. the
 *  OpenAI-compatible completions, spend from it too); throws RateLimitedError when short. No-op for other callers. */
export function enforceTenantRate(limiter: TokenBucketLimiter, ctx: Pick<ApiContext, "auth">, cost: number, onLimited?: () => void): void {
  if (ctx.auth.kind !== "tenant") return;
  const { allowed, retryAfter } = limiter.take(ctx.auth.tenantId, ctx.auth.mutationsPerMinute, cost);
  if (!allowed) {
    onLimited?.();
    throw new RateLimitedError(retryAfter, ctx.auth.mutationsPerMinute);
  }
}

/** Apollo plugin applying `enforceMutationRate` once the operation is known. */
export function rateLimitPlugin(limiter: TokenBucketLimiter, onLimited?: () => void): ApolloServerPlugin<ApiContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation, document, contextValue }) {
          if (!operation) return;
          const fragments: Record<string, FragmentDefinitionNode> = {};
          for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments[d.name.value] = d;
          enforceMutationRate(limiter, contextValue, operation, fragments, onLimited);
        },
      };
    },
  };
}
