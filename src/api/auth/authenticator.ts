/** @module api/auth/authenticator
 *  Turns an `Authorization` header (HTTP) or `connection_init` payload value (WebSocket) into an AuthState.
 *  - absent → anonymous (resolvers then demand credentials);
 *  - not `Bearer <token>` or a token shaped like neither key kind → UNAUTHENTICATED "malformed";
 *  - the admin key → admin (sha256 compared with timingSafeEqual);
 *  - a tenant key → looked up by sha256 via the system client, compared in constant time; unknown or revoked →
 *    UNAUTHENTICATED; a key of a tenant the platform admin suspended → UNAUTHENTICATED "tenant suspended …".
 *    `lastUsedAt` is refreshed at most once a minute per key, off the request path. */
import type { Database } from "../db/index.ts";
import type { AuthState } from "../context.ts";
import { UnauthenticatedError } from "../errors/index.ts";
import type { Logger } from "../server/logger.ts";
import { digestsEqual, hashKey, tenantKeyPrefix } from "./keys.ts";

export interface Authenticator {
  /** `header`: the raw header value (`Bearer …`) or undefined. */
  authenticate(header: string | undefined | null): Promise<AuthState>;
  /** Whether the key behind a tenant AuthState is still valid (not revoked, tenant still present and not suspended). */
  isStillValid(auth: AuthState): Promise<boolean>;
}

const LAST_USED_REFRESH_MS = 60_000;

/** What every request with a key of a suspended tenant is told (suspendTenant; services/tenant-lifecycle.ts). */
export const TENANT_SUSPENDED_MESSAGE = "tenant suspended by the platform admin: its API keys are refused until it is resumed";

export function createAuthenticator(opts: { db: Database; adminKeyHash: string; log: Logger }): Authenticator {
  const { db, adminKeyHash, log } = opts;
  if (!/^[0-9a-f]{64}$/.test(adminKeyHash)) throw new TypeError("adminKeyHash must be a hex sha256 digest");
  const lastUsedWritten = new Map<string, number>();

  function touch(keyId: string, lastUsedAt: Date | null): void {
    const now = Date.now();
    const known = Math.max(lastUsedWritten.get(keyId) ?? 0, lastUsedAt?.getTime() ?? 0);
    if (now - known < LAST_USED_REFRESH_MS) return;
    lastUsedWritten.set(keyId, now);
    db.system.apiKey
      .update({ where: { id: keyId }, data: { lastUsedAt: new Date(now) } })
      .catch((error: unknown) => log.warn("could not record API key use", { keyId, error }));
  }

  return {
    async authenticate(header) {
      if (header === undefined || header === null || header === "") return { kind: "anonymous" };
      const m = /^Bearer ([\x21-\x7e]{1,512})$/.exec(header.trim());
      if (!m) throw new UnauthenticatedError("malformed Authorization header: expected `Bearer <api key>`");
      const token = m[1]!;
      const digest = hashKey(token);
      if (digestsEqual(digest, adminKeyHash)) return { kind: "admin" };
      if (tenantKeyPrefix(token) === null) {
        throw new UnauthenticatedError("malformed API key: expected `parm_<prefix>_<secret>`");
      }
      const key = await db.system.apiKey.findUnique({
        where: { secretHash: digest },
        select: {
          id: true,
          tenantId: true,
          role: true,
          secretHash: true,
          revokedAt: true,
          lastUsedAt: true,
          tenant: { select: { mutationsPerMinute: true, suspendedAt: true } },
        },
      });
      if (!key || !digestsEqual(digest, key.secretHash)) throw new UnauthenticatedError("unknown API key");
      if (key.revokedAt !== null) throw new UnauthenticatedError("API key revoked");
      if (key.tenant.suspendedAt) throw new UnauthenticatedError(TENANT_SUSPENDED_MESSAGE);
      touch(key.id, key.lastUsedAt);
      return {
        kind: "tenant",
        tenantId: key.tenantId,
        keyId: key.id,
        role: key.role,
        mutationsPerMinute: key.tenant.mutationsPerMinute,
      };
    },
    async isStillValid(auth) {
      if (auth.kind !== "tenant") return true;
      const key = await db.system.apiKey.findUnique({ where: { id: auth.keyId }, select: { revokedAt: true, tenant: { select: { suspendedAt: true } } } });
      return key !== null && key.revokedAt === null && !key.tenant.suspendedAt;
    },
  };
}
