/** @module web/lib/subscriptions
 *  GraphQL subscriptions over graphql-ws (sub-protocol graphql-transport-ws) on the same origin's `/graphql`, with
 *  the session key in the `connection_init` payload. One lazy socket per key, shared by every stream.
 *
 *  Resuming: graphql-ws's own retry is off; {@link subscribeResumable} owns it. When the socket drops (any close
 *  but an auth refusal), each open stream re-subscribes with exponential backoff (250 ms doubling to 10 s, with
 *  jitter) and asks its `variables()` again, so a stream resumes after the last sequence it saw; the stream hooks
 *  (streams.ts) also drop anything at or below it, as the api replays stored items first. A close with 4401 or
 *  4403 (key refused or revoked) ends the session instead. */
import { createClient, type Client } from "graphql-ws/client";
import { toTopLevelError, TopLevelError, type TypedDocumentString } from "./graphql.ts";
import { currentKey, sessionStore, signOut } from "./session.ts";
import { createStore } from "./store.ts";

export type SocketStatus = "idle" | "connecting" | "open" | "reconnecting";

export interface SocketState {
  status: SocketStatus;
  /** Re-subscriptions after a dropped socket since sign-in. */
  reconnects: number;
}

export const socketStore = createStore<SocketState>({ status: "idle", reconnects: 0 });

let client: Client | null = null;
let clientKey: string | null = null;

function socketUrl(): string {
  const url = new URL("/graphql", window.location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.toString();
}

interface CloseLike {
  code: number;
  reason: string;
}

function isCloseEvent(value: unknown): value is CloseLike {
  return typeof value === "object" && value !== null && "code" in value && typeof (value as CloseLike).code === "number";
}

const AUTH_CLOSE_CODES = new Set([4401, 4403]);

function socketClient(): Client {
  const key = currentKey();
  if (!key) throw new TopLevelError("not signed in", "UNAUTHENTICATED", 401);
  if (client && clientKey === key) return client;
  client?.dispose();
  clientKey = key;
  client = createClient({
    url: socketUrl(),
    lazy: true,
    lazyCloseTimeout: 5_000,
    retryAttempts: 0,
    keepAlive: 15_000,
    connectionParams: { authorization: `Bearer ${key}` },
    on: {
      connecting: () => socketStore.set((s) => ({ ...s, status: s.status === "reconnecting" ? "reconnecting" : "connecting" })),
      connected: () => socketStore.set((s) => ({ ...s, status: "open" })),
      closed: (event) => {
        if (isCloseEvent(event) && AUTH_CLOSE_CODES.has(event.code) && clientKey === currentKey()) {
          signOut(event.reason.replace(/^(Unauthorized|Forbidden): /, "") || "the api refused the key");
        }
        socketStore.set((s) => (s.status === "reconnecting" ? s : { ...s, status: "idle" }));
      },
    },
  });
  return client;
}

sessionStore.subscribe(() => {
  if (client && clientKey !== sessionStore.get().key) {
    client.dispose();
    client = null;
    clientKey = null;
    socketStore.set({ status: "idle", reconnects: 0 });
  }
});

export interface StreamHandlers<R> {
  next(data: R): void;
  /** The stream ended with a GraphQL error (JOB_FAILED, JOB_CANCELLED, BAD_USER_INPUT …); it is not retried. */
  error(error: TopLevelError): void;
  complete(): void;
}

/** Subscribes `document` and keeps it subscribed across dropped sockets; returns the unsubscribe function. */
export function subscribeResumable<R, V>(
  document: TypedDocumentString<R, V>,
  variables: () => V,
  handlers: StreamHandlers<R>,
): () => void {
  let stopped = false;
  let attempt = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let dispose: () => void = () => {};

  const start = () => {
    if (stopped) return;
    let c: Client;
    try {
      c = socketClient();
    } catch (error) {
      handlers.error(error as TopLevelError);
      return;
    }
    let settled = false;
    dispose = c.subscribe<R>(
      { query: document.toString(), variables: (variables() ?? {}) as Record<string, unknown> },
      {
        next: (result) => {
          if (stopped) return;
          if (result.errors?.length) {
            settled = true;
            handlers.error(toTopLevelError(result.errors[0], 200));
            return;
          }
          if (attempt > 0) {
            attempt = 0;
            socketStore.set((s) => ({ ...s, status: "open" }));
          }
          if (result.data) handlers.next(result.data as R);
        },
        error: (error: unknown) => {
          if (stopped || settled) return;
          if (Array.isArray(error)) {
            settled = true;
            handlers.error(toTopLevelError(error[0] as { message?: unknown }, 400));
            return;
          }
          if (isCloseEvent(error) && AUTH_CLOSE_CODES.has(error.code)) {
            settled = true;
            handlers.error(new TopLevelError(error.reason || "the api refused the key", "UNAUTHENTICATED", 401));
            return;
          }
          const delay = Math.min(10_000, 250 * 2 ** attempt) * (0.5 + Math.random() / 2);
          attempt += 1;
          socketStore.set((s) => ({ status: "reconnecting", reconnects: s.reconnects + 1 }));
          timer = setTimeout(start, delay);
        },
        complete: () => {
          if (stopped || settled) return;
          settled = true;
          handlers.complete();
        },
      },
    );
  };

  start();
  return () => {
    stopped = true;
    clearTimeout(timer);
    dispose();
  };
}
