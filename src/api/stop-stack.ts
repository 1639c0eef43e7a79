/** @module api/stop-stack
 *  What `npm start` opened, stopped in reverse order: whatever is opened first (PostgreSQL) stops last, after
 *  everything that still writes to it (event ingest, the HTTP/WebSocket server, the embedded runner). Used both by
 *  the graceful shutdown and by a start that fails half-way, so a failed start leaves no process behind. */
import type { Logger } from "./server/logger.ts";

interface Entry {
  readonly name: string;
  readonly stop: () => Promise<void>;
}

export class StopStack {
  readonly #entries: Entry[] = [];
  #stopping: Promise<boolean> | undefined;

  /** Registers `stop` for a resource that is now open. */
  push(name: string, stop: () => Promise<void>): void {
    this.#entries.push({ name, stop });
  }

  /** Stops every entry once, last pushed first, awaiting each; a failing entry is logged and the rest still stop.
   *  An entry pushed while this runs is stopped next. Resolves true when every entry stopped cleanly. Later calls
   *  return the first call's promise. */
  stopAll(log: Logger): Promise<boolean> {
    this.#stopping ??= this.#run(log);
    return this.#stopping;
  }

  async #run(log: Logger): Promise<boolean> {
    let clean = true;
    // pop(), not a snapshot: a part a still-running start-up opens meanwhile is stopped too (before older ones).
    for (let entry = this.#entries.pop(); entry !== undefined; entry = this.#entries.pop()) {
      try {
        await entry.stop();
        log.debug("stopped", { component: entry.name });
      } catch (error) {
        clean = false;
        log.error("stop failed", { component: entry.name, error: error instanceof Error ? error : new Error(String(error)) });
      }
    }
    return clean;
  }
}
