/** @module api/server/socket-writes
 *  Cheaper writes on a busy graphql-ws socket: frames sent in one tick leave in one `writev`, and a send is
 *  acknowledged as soon as the frame is queued while the socket's buffer is small.
 *
 *  graphql-ws awaits each `send` before it takes the subscription's next result, and `ws` writes every frame at once
 *  (a system call per frame). When one token fans out to hundreds of sockets that are behind, each socket holds
 *  several results; acknowledging at once lets them go out together, and corking the socket until the tick ends
 *  (`setImmediate`) joins them into one write. Backpressure stays: above `HIGH_WATER_BYTES` buffered, a send is
 *  acknowledged when `ws` reports the frame written. */
import type { WebSocket } from "ws";

/** Buffered bytes above which a send waits for its frame to be written. */
export const HIGH_WATER_BYTES = 1 << 20;

type SendCallback = (error?: Error) => void;

/** Patches `socket.send` as described in the module comment. */
export function coalesceWrites(socket: WebSocket): void {
  const raw = (socket as unknown as { _socket?: { cork(): void; uncork(): void; writable: boolean } })._socket;
  if (!raw) return;
  const send = socket.send.bind(socket) as (data: unknown, options: object, callback?: SendCallback) => void;
  let corked = false;
  const patched = (data: unknown, optionsOrCallback?: object | SendCallback, maybeCallback?: SendCallback): void => {
    const options = typeof optionsOrCallback === "function" ? {} : (optionsOrCallback ?? {});
    const callback: SendCallback | undefined = typeof optionsOrCallback === "function" ? (optionsOrCallback as SendCallback) : maybeCallback;
    if (!corked && raw.writable) {
      corked = true;
      raw.cork();
      setImmediate(() => {
        corked = false;
        raw.uncork();
      });
    }
    if (!callback || socket.bufferedAmount >= HIGH_WATER_BYTES) {
      send(data, options, callback);
      return;
    }
    let failed: Error | undefined;
    send(data, options, (error) => {
      failed = error ?? undefined;
    });
    queueMicrotask(() => callback(failed));
  };
  socket.send = patched as typeof socket.send;
}
