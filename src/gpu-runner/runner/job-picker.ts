/**
 * @module gpu-runner/runner/job-picker — takes the next job for a free slot, from any of the runner's kinds.
 *
 * Contracts:
 * - A job is taken only when asked for (`next()`, called once a slot is free): every pull is a no-wait pull of at most
 *   one job (`expiresMs` 0), so no pull is held open while the slot could serve another kind, and no job is taken
 *   that no slot can run.
 * - When no kind has a ready job, `next()` waits for a job-ready hint of the bus (`watchJobs`: a job was published)
 *   or `idlePollMs`, whichever comes first, then pulls again; a hint that arrives while a pull round is under way is
 *   not lost (a generation counter). Hinted kinds are pulled first; otherwise kinds take turns (the one after the
 *   last served comes first). A hint can reach the runner before its job can be pulled, so an empty round after a
 *   hint is retried a few times within about 100 ms before the picker waits again.
 * - A failed pull is logged and retried after `retryMs`; `stop()` ends waiting and makes `next()` resolve null.
 */
import type { BusWatch, JobBus, JobDelivery } from "../../bus/index.ts";
import type { JobKind } from "../../contracts/index.ts";
import type { RunnerLogger } from "../handlers/index.ts";

export interface JobPickerOptions {
  readonly bus: JobBus;
  readonly kinds: readonly JobKind[];
  /** Longest wait without a hint before pulling again: the bound on noticing a job the bus gives no hint of (a
   *  redelivery on JetStream). */
  readonly idlePollMs: number;
  readonly log: RunnerLogger;
  /** Wait after a failed pull (default 1000 ms). */
  readonly retryMs?: number;
}

export interface JobPicker {
  /** The next job for one free slot, or null once stopped. */
  next(): Promise<JobDelivery | null>;
  stop(): Promise<void>;
}

/** Pauses before pulling a hinted kind again when the hint came before its job could be pulled (≈ 100 ms in all). */
const HINT_RETRY_MS = [2, 5, 10, 25, 50];

export async function startJobPicker(options: JobPickerOptions): Promise<JobPicker> {
  const { bus, kinds, idlePollMs, log } = options;
  const retryMs = options.retryMs ?? 1000;
  let stopped = false;
  let generation = 0;
  let turn = 0;
  const hinted = new Set<JobKind>();
  const sleepers = new Set<() => void>();
  const wakeAll = () => {
    for (const wake of [...sleepers]) wake();
  };
  const watch: BusWatch = await bus.watchJobs(kinds, (kind) => {
    generation++;
    hinted.add(kind);
    wakeAll();
  });

  /** Resolves after `ms`, on a hint, or at stop; at once when a hint came since generation `seen`. */
  const sleep = (seen: number, ms: number) =>
    new Promise<void>((resolve) => {
      if (stopped || generation !== seen) return resolve();
      const wake = () => {
        clearTimeout(timer);
        sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      sleepers.add(wake);
    });

  /** This round's order: hinted kinds first, then the rest, each group starting at the current turn. */
  const order = (): JobKind[] => {
    const rotated = [...kinds.slice(turn), ...kinds.slice(0, turn)];
    const first = rotated.filter((k) => hinted.has(k));
    return [...first, ...rotated.filter((k) => !first.includes(k))];
  };

  const pullRound = async (): Promise<JobDelivery | null> => {
    for (const kind of order()) {
      if (stopped) return null;
      const [delivery, ...extra] = await bus.pullJobs(kind, { max: 1, expiresMs: 0 });
      for (const e of extra) e.nak();
      if (delivery) {
        turn = (kinds.indexOf(kind) + 1) % kinds.length;
        return delivery;
      }
    }
    return null;
  };

  return {
    async next() {
      let retry = 0;
      while (!stopped) {
        const seen = generation;
        try {
          const delivery = await pullRound();
          if (delivery) {
            hinted.clear();
            if (!stopped) return delivery;
            delivery.nak();
            return null;
          }
          // A hint can outrun the job: the server hands the message to subscribers before the consumer can deliver it.
          if (hinted.size > 0 && retry < HINT_RETRY_MS.length) {
            await sleep(seen, HINT_RETRY_MS[retry++]!);
            continue;
          }
          hinted.clear();
          retry = 0;
          await sleep(seen, idlePollMs);
        } catch (error) {
          if (stopped) return null;
          log.warn(`pulling jobs failed: ${String(error)}`);
          await sleep(generation, retryMs);
        }
      }
      return null;
    },
    async stop() {
      stopped = true;
      wakeAll();
      await watch.stop().catch(() => undefined);
    },
  };
}
