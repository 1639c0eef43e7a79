/** @module api/services/streams
 *
 * Subscription streams with replay: a late subscriber first receives what is already stored, then live
 * messages, without gaps or duplicates.
 *
 * Contract of `replayThenLive`: the pub/sub topic is subscribed BEFORE the stored items are read (so nothing
 * published in between is lost); items published ahead of their commit (`pubSub.pending`) are read before the store
 * and replayed with it; live items whose key is ≤ the last replayed key are skipped (so nothing is
 * delivered twice); the stream ends after an `end` message, or right after the replay when the source is
 * already finished (re-reading the store once, so items stored while the replay was read are not lost). Keys must increase in publication order (event seq, point index).
 * `afterKey` resumes a stream: items whose key is ≤ it are neither replayed nor delivered live (a client that
 * reconnects passes the last key it saw).
 * Once it has ended, `endError` is asked once: an error it returns is thrown, so the subscription ends with that
 * error after every item (a failed job's points and tokens are delivered, then the failure).
 */
import type { ApiPubSub } from "../pubsub/index.ts";

export type LiveMessage<T> = { kind: "item"; item: T } | { kind: "end" };

export interface ReplayOptions<T, M> {
  pubSub: ApiPubSub;
  topic: string;
  /** Stored items in key order. */
  loadStored(): Promise<T[]>;
  /** Whether the source is finished (checked after the replay). */
  isFinished(): Promise<boolean>;
  /** Maps a topic message to an item, an end marker, or null (ignore). */
  fromMessage(message: M): LiveMessage<T> | null;
  keyOf(item: T): bigint | number;
  /** Resume after this key: only items with a greater key are delivered. */
  afterKey?: bigint | number | null;
  /** After the end: the error to end the stream with (e.g. the job failed), or null to complete it. */
  endError?(): Promise<Error | null>;
}

export async function* replayThenLive<T, M>(options: ReplayOptions<T, M>): AsyncGenerator<T> {
  const iterator = options.pubSub.subscribe(options.topic)[Symbol.asyncIterator]();
  // Starting the first `next()` attaches the listener now; messages published from here on are buffered.
  let pending = iterator.next();
  try {
    let lastKey: bigint | number | null = options.afterKey ?? null;
    // Published but not yet committed: read before the store, so an item committed meanwhile is in one of the two.
    const early = options.pubSub.pending.snapshot(options.topic).flatMap((m) => {
      const message = options.fromMessage(m as M);
      return message?.kind === "item" ? [message.item] : [];
    });
    for (const item of mergeByKey(await options.loadStored(), early, options.keyOf)) {
      if (lastKey !== null && options.keyOf(item) <= lastKey) continue;
      lastKey = options.keyOf(item);
      yield item;
    }
    if (await options.isFinished()) {
      // The source may have finished while the replay was read: deliver what was stored meanwhile.
      for (const item of await options.loadStored()) {
        if (lastKey !== null && options.keyOf(item) <= lastKey) continue;
        lastKey = options.keyOf(item);
        yield item;
      }
      return await throwEndError(options);
    }
    for (;;) {
      const result = await pending;
      if (result.done) return;
      pending = iterator.next();
      const message = options.fromMessage(result.value as M);
      if (message === null) continue;
      if (message.kind === "end") return await throwEndError(options);
      if (lastKey !== null && options.keyOf(message.item) <= lastKey) continue;
      lastKey = options.keyOf(message.item);
      yield message.item;
    }
  } finally {
    await iterator.return?.();
  }
}

/** Two key-ordered lists as one, in key order, each key once (the first list's item wins). */
function mergeByKey<T>(a: T[], b: T[], keyOf: (item: T) => bigint | number): T[] {
  if (b.length === 0) return a;
  const byKey = new Map<bigint | number, T>();
  for (const item of [...b, ...a]) byKey.set(keyOf(item), item);
  return [...byKey.values()].sort((x, y) => (keyOf(x) < keyOf(y) ? -1 : keyOf(x) > keyOf(y) ? 1 : 0));
}

async function throwEndError<T, M>(options: ReplayOptions<T, M>): Promise<void> {
  const error = await options.endError?.();
  if (error) throw error;
}
