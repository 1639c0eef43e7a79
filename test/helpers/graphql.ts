/**
 * @module test/helpers/graphql — GraphQL clients for tests over real loopback sockets: `postGraphQL` (HTTP, returns
 * status, headers and body) and `openGraphQLSocket` (graphql-ws over a real WebSocket, exposing close codes).
 */
import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";

export interface GraphQLResponseError {
  message: string;
  path?: (string | number)[];
  extensions?: { code?: string; [key: string]: unknown };
}

export interface GraphQLResponse<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  data: T | null | undefined;
  errors: GraphQLResponseError[] | undefined;
  /** The parsed body (or text when not JSON). */
  body: unknown;
}

/** POSTs an operation; `key` becomes `Authorization: Bearer <key>`, `authorization` overrides the header verbatim. */
export async function postGraphQL<T = Record<string, unknown>>(
  graphqlUrl: string,
  query: string,
  variables?: Record<string, unknown>,
  options: { key?: string; authorization?: string; headers?: Record<string, string> } = {},
): Promise<GraphQLResponse<T>> {
  const headers: Record<string, string> = { "content-type": "application/json", ...options.headers };
  if (options.authorization !== undefined) headers.authorization = options.authorization;
  else if (options.key !== undefined) headers.authorization = `Bearer ${options.key}`;
  const res = await fetch(graphqlUrl, { method: "POST", headers, body: JSON.stringify({ query, variables }) });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  const obj = (typeof body === "object" && body !== null ? body : {}) as { data?: T | null; errors?: GraphQLResponseError[] };
  return { status: res.status, headers: res.headers, data: obj.data, errors: obj.errors, body };
}

export interface SocketClose {
  code: number;
  reason: string;
}

export interface GraphQLSocket {
  client: Client;
  /** Resolves when the socket is acknowledged (connection_ack). Rejects with the close when refused. */
  connected: Promise<void>;
  /** Resolves with the first close of the socket. */
  closed: Promise<SocketClose>;
  /** Subscribes; iterate the results. `return()` on the iterator completes the subscription. */
  iterate<T = Record<string, unknown>>(
    query: string,
    variables?: Record<string, unknown>,
  ): AsyncIterableIterator<{ data?: T | null; errors?: GraphQLResponseError[] }>;
  dispose(): Promise<void>;
}

/** Opens a graphql-ws connection (no retries), authenticating with `connectionParams` (default from `key`). */
export function openGraphQLSocket(
  wsUrl: string,
  options: { key?: string; connectionParams?: Record<string, unknown> } = {},
): GraphQLSocket {
  let resolveConnected!: () => void;
  let rejectConnected!: (close: SocketClose) => void;
  const connected = new Promise<void>((res, rej) => {
    resolveConnected = res;
    rejectConnected = rej;
  });
  connected.catch(() => {});
  let resolveClosed!: (close: SocketClose) => void;
  const closed = new Promise<SocketClose>((res) => (resolveClosed = res));
  const connectionParams =
    options.connectionParams ?? (options.key !== undefined ? { authorization: `Bearer ${options.key}` } : {});
  const client = createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    lazy: false,
    retryAttempts: 0,
    connectionParams,
    onNonLazyError: () => {},
    on: {
      connected: () => resolveConnected(),
      closed: (event) => {
        const e = event as { code?: number; reason?: string };
        const close = { code: e.code ?? 0, reason: String(e.reason ?? "") };
        rejectConnected(close);
        resolveClosed(close);
      },
    },
  });
  return {
    client,
    connected,
    closed,
    iterate<T>(query: string, variables?: Record<string, unknown>) {
      return client.iterate({ query, variables }) as AsyncIterableIterator<{ data?: T | null; errors?: GraphQLResponseError[] }>;
    },
    async dispose() {
      await client.dispose();
    },
  };
}

/** The next value of an async iterator within `ms`, or a rejection naming `what`. */
export async function nextWithin<T>(iterator: AsyncIterator<T>, ms: number, what = "next value"): Promise<IteratorResult<T>> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      iterator.next(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
