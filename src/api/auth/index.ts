/** @module api/auth
 *  API key authentication: key generation and hashing, and the Authenticator that builds AuthStates. */
export { createAuthenticator, type Authenticator } from "./authenticator.ts";
export { resolveAdminKey, AdminKeyConflictError, AdminKeyFileError, ADMIN_KEY_FILE, type ResolvedAdminKey } from "./admin-key.ts";
export {
  generateTenantKey,
  generateAdminKey,
  hashKey,
  digestsEqual,
  tenantKeyPrefix,
  type GeneratedTenantKey,
} from "./keys.ts";
