/** @module api/server/live-sockets
 *  The open graphql-ws sockets of each tenant API key, so revoking a key ends its subscriptions within a second
 *  instead of at the socket's next `subscribe`.
 *
 *  Two paths close a socket with 4403 ("Forbidden: …"):
 *  - in this process: `closeSocketsOf(keyIds)` — called by `revokeApiKey` right after the row is updated; also the
 *    seam for anything else that withdraws keys (e.g. suspending a tenant: pass all of its key ids);
 *  - from any process (several api replicas share one database): a periodic re-check, every `recheckMs` (default
 *    500 ms, so a revocation elsewhere reaches this process's sockets within a second). Chosen over a pub/sub
 *    broadcast because it needs no bus (the in-process bus reaches no other replica) and cannot miss a message: one
 *    primary-key lookup `id IN (<key ids with open sockets>) AND revoked_at IS NULL` (and the key's tenant not
 *    suspended) per tick, only while a tenant key has a socket open, never two at once. A key whose row is gone
 *    (tenant deleted) is closed as well.
 *  The platform admin key is not tracked: it changes only with a restart. */
import type { WebSocket } from "ws";
import type { Database } from "../db/index.ts";
import type { Logger } from "./logger.ts";

declare module "../context.ts" {
  interface ApiServices {
    /** The server's open WebSocket connections by API key (set by createApiServer). */
    liveSockets?: LiveSockets;
  }
}

/** graphql-ws's close code for a refused operation (conventions §2); sent here for a withdrawn key. */
export const CLOSE_FORBIDDEN = 4403;
export const DEFAULT_RECHECK_MS = 500;

export interface LiveSockets {
  /** Registers a socket authenticated with tenant key `keyId`; it is forgotten when it closes. */
  track(keyId: string, socket: WebSocket): void;
  /** Closes every open socket of the given keys with 4403 and `reason` (≤ 123 bytes); returns how many it closed. */
  closeSocketsOf(keyIds: readonly string[], reason?: string): number;
  /** How many sockets are tracked. */
  size(): number;
  /** Stops the re-check (sockets are closed by the server's own stop). */
  close(): void;
}

export interface LiveSocketsOptions {
  db: Pick<Database, "system">;
  log: Logger;
  /** Re-check interval in ms (default 500); 0 disables the cross-process re-check. */
  recheckMs?: number;
}

export function createLiveSockets(options: LiveSocketsOptions): LiveSockets {
  const byKey = new Map<string, Set<WebSocket>>();
  const recheckMs = options.recheckMs ?? DEFAULT_RECHECK_MS;
  let timer: NodeJS.Timeout | undefined;
  let checking = false;

  const closeSocketsOf = (keyIds: readonly string[], reason = "Forbidden: API key revoked"): number => {
    let closed = 0;
    for (const keyId of keyIds) {
      for (const socket of byKey.get(keyId) ?? []) {
        socket.close(CLOSE_FORBIDDEN, reason);
        closed += 1;
      }
      byKey.delete(keyId);
    }
    return closed;
  };

  /** One re-check: closes the sockets of keys that are revoked or gone. */
  const recheck = async (): Promise<void> => {
    const ids = [...byKey.keys()];
    if (checking || ids.length === 0) return;
    checking = true;
    try {
      const valid = await options.db.system.apiKey.findMany({ where: { id: { in: ids }, revokedAt: null, tenant: { suspendedAt: null } }, select: { id: true } });
      const keep = new Set(valid.map((k) => k.id));
      const withdrawn = ids.filter((id) => !keep.has(id));
      if (withdrawn.length > 0) {
        const count = closeSocketsOf(withdrawn);
        options.log.info("closed the sockets of revoked API keys", { keys: withdrawn.length, sockets: count });
      }
    } catch (error) {
      options.log.warn("API key re-check failed; retrying", { error: error instanceof Error ? error : new Error(String(error)) });
    } finally {
      checking = false;
    }
  };

  const updateTimer = () => {
    if (byKey.size > 0 && timer === undefined && recheckMs > 0) {
      timer = setInterval(() => void recheck(), recheckMs);
      timer.unref();
    } else if (byKey.size === 0 && timer !== undefined) {
      clearInterval(timer);
      timer = undefined;
    }
  };

  return {
    track(keyId, socket) {
      const set = byKey.get(keyId) ?? new Set<WebSocket>();
      set.add(socket);
      byKey.set(keyId, set);
      socket.once("close", () => {
        set.delete(socket);
        if (set.size === 0 && byKey.get(keyId) === set) byKey.delete(keyId);
        updateTimer();
      });
      updateTimer();
    },
    closeSocketsOf(keyIds, reason) {
      const count = closeSocketsOf(keyIds, reason);
      updateTimer();
      return count;
    },
    size: () => [...byKey.values()].reduce((n, s) => n + s.size, 0),
    close() {
      clearInterval(timer);
      timer = undefined;
    },
  };
}
