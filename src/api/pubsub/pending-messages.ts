/** @module api/pubsub/pending-messages — messages published on a topic ahead of their commit to PostgreSQL, kept per
 *  topic until the commit settles them, so a subscriber that subscribes between the two still replays them
 *  (services/streams.ts `replayThenLive` reads them before the store). Keys are the items' stream keys (event seq). */
export class PendingMessages {
  readonly #byTopic = new Map<string, Map<bigint, unknown>>();

  add(topic: string, key: bigint, message: unknown): void {
    let pending = this.#byTopic.get(topic);
    if (!pending) this.#byTopic.set(topic, (pending = new Map()));
    pending.set(key, message);
  }

  /** Forgets the messages of `keys` (committed, or given up). */
  settle(topic: string, keys: Iterable<bigint>): void {
    const pending = this.#byTopic.get(topic);
    if (!pending) return;
    for (const key of keys) pending.delete(key);
    if (pending.size === 0) this.#byTopic.delete(topic);
  }

  /** The topic's pending messages in key order. */
  snapshot(topic: string): unknown[] {
    const pending = this.#byTopic.get(topic);
    if (!pending) return [];
    return [...pending.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, message]) => message);
  }

  /** Messages held, over all topics. */
  get size(): number {
    let n = 0;
    for (const pending of this.#byTopic.values()) n += pending.size;
    return n;
  }
}
