/** @module gpu-runner/runner/cancel-reason
 *  The `reason` of the `failed` CANCELLED event a runner publishes. A job found cancelled before this delivery ran
 *  it was "cancelled before it started" only when no earlier attempt started it: a job redelivered after a runner
 *  stopped (or lost its connection) mid-run has a `started` event already, and its reason says how long ago. */

/** Seconds between two instants, rounded, never negative. */
function secondsBetween(from: Date, to: Date): number {
  return Math.max(0, Math.round((to.getTime() - from.getTime()) / 1000));
}

/** Reason for a job cancelled before this delivery ran it; `stored` are the job's events so far. */
export function cancelledBeforeRunReason(stored: readonly { readonly event: { readonly type: string }; readonly time: Date }[], now: Date): string {
  const firstStart = stored.find((d) => d.event.type === "started");
  if (!firstStart) return "cancelled before it started";
  return `cancelled while running: an earlier attempt started ${secondsBetween(firstStart.time, now)} s ago and was not resumed`;
}

/** Reason for a job this runner stopped at its next step after `runningSeconds` of work. */
export function cancelledWhileRunningReason(runningSeconds: number): string {
  return `cancelled while running, after ${Math.max(0, Math.round(runningSeconds))} s`;
}
