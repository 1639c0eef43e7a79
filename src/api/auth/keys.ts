/** @module api/auth/keys
 *  API key material. Tenant keys look like `parm_<prefix>_<secret>`: `prefix` is 10 lower-case hex characters (shown
 *  in listings to recognise a key), `secret` 43 base64url characters (256 random bits). Only `sha256(key)` (hex)
 *  and the visible prefix `parm_<prefix>` are stored. The admin key is any string of ≥ 24 characters; keys the
 *  platform generates look like `parm_admin_<secret>`. Hash comparisons use `timingSafeEqual`. */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

const TENANT_KEY = /^parm_([0-9a-f]{10})_([A-Za-z0-9_-]{43})$/;

export function hashKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

/** Constant-time equality of two hex digests (false when lengths differ). */
export function digestsEqual(aHex: string, bHex: string): boolean {
  const a = Buffer.from(aHex, "hex");
  const b = Buffer.from(bHex, "hex");
  return a.length === b.length && a.length > 0 && timingSafeEqual(a, b);
}

export interface GeneratedTenantKey {
  /** The full key: shown to the caller once, never stored. */
  key: string;
  /** Visible prefix, `parm_<10 hex>`. */
  prefix: string;
  /** sha256(key), hex. */
  secretHash: string;
}

export function generateTenantKey(): GeneratedTenantKey {
  const prefix = randomBytes(5).toString("hex");
  const secret = randomBytes(32).toString("base64url");
  const key = `parm_${prefix}_${secret}`;
  return { key, prefix: `parm_${prefix}`, secretHash: hashKey(key) };
}

/** The visible prefix of a well-formed tenant key, or null when the string is not shaped like one. */
export function tenantKeyPrefix(key: string): string | null {
  const m = TENANT_KEY.exec(key);
  return m ? `parm_${m[1]}` : null;
}

export function generateAdminKey(): string {
  return `parm_admin_${randomBytes(32).toString("base64url")}`;
}
