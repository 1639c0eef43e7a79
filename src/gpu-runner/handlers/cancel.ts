/**
 * @module gpu-runner/handlers/cancel — cancellation of a job's main-thread phases (fetching inputs, storing
 * results). Both helpers raise a JobFailureError CANCELLED naming the phase; the runner decides from its own stop
 * reason what a stopped job becomes (a cancel ends it CANCELLED, a shutdown hands it back).
 */
import { JobFailureError } from "./types.ts";

function cancelled(phase: string): JobFailureError {
  return new JobFailureError("CANCELLED", `cancelled while ${phase}`, false);
}

/** The abort reason of a graceful runner stop (runner.ts); any other reason is a cancellation. */
export const SHUTDOWN_REASON = "shutdown";

/**
 * Before storing a finished job's results: throws a CANCELLED JobFailureError when the job was cancelled, so a
 * cancelled job leaves no orphaned artifacts. A graceful stop (`SHUTDOWN_REASON`) does not throw: engine work that
 * finished anyway is stored and the job completes instead of being redone.
 */
export function throwIfJobCancelled(signal: AbortSignal, phase: string): void {
  if (signal.aborted && signal.reason !== SHUTDOWN_REASON) throw cancelled(phase);
}

/**
 * Settles as `work` does, or rejects with a CANCELLED JobFailureError as soon as `signal` aborts. `work` itself
 * goes on (a download may be shared with other jobs and still fills the artifact cache); its outcome is then ignored.
 */
export function untilCancelled<T>(signal: AbortSignal, work: Promise<T>, phase: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(cancelled(phase));
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
}
