/** @module engine/util/abort
 * Cooperative cancellation. The engine never interrupts a native onnxruntime call; every phase that can run long
 * checks an AbortSignal between its units of work (tokens, batches, grid points, sessions created) and throws
 * {@link CancelledError} (code CANCELLED) naming where it stopped. An abort check is not I/O: the engine stays pure.
 */
import { EngineError } from "./errors.ts";

/** Thrown by a phase that stopped because its signal aborted; `message` says where it stopped. */
export class CancelledError extends EngineError<"CANCELLED"> {
  static override readonly category = "cancelled";
  constructor(message: string, options?: { cause?: unknown }) {
    super("CANCELLED", message, options);
  }
}

/** Throws CancelledError(`where()`) when `signal` has aborted; otherwise returns (no signal: never throws). */
export function throwIfCancelled(signal: AbortSignal | undefined, where: () => string): void {
  if (signal?.aborted) throw new CancelledError(where());
}

/**
 * A signal that follows `signal` except for aborts whose reason `keep(reason)` accepts (e.g. a shutdown that
 * wants finished work returned rather than thrown away). Undefined in, undefined out.
 */
export function abortsUnless(signal: AbortSignal | undefined, keep: (reason: unknown) => boolean): AbortSignal | undefined {
  if (!signal) return undefined;
  const controller = new AbortController();
  const follow = () => {
    if (!keep(signal.reason)) controller.abort(signal.reason);
  };
  if (signal.aborted) follow();
  else signal.addEventListener("abort", follow, { once: true });
  return controller.signal;
}
