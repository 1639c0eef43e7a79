/** @module engine/train/data-order
 * Deterministic, resumable data order. Epoch e visits the examples in `epochPermutation(size, seed, e)`, a
 * Fisher–Yates shuffle driven by an Rng seeded from (seed, epoch) only, so a run resumed from a checkpoint's
 * `DataCursor` { epoch, index } sees exactly the micro-batches it would have seen.
 */
import { EngineError } from "../util/errors.ts";
import { Rng } from "./rng.ts";

export class DataOrderError extends EngineError<"INVALID_ARGUMENT"> {}

export interface DataCursor {
  readonly epoch: number;
  /** Position inside the epoch's permutation. */
  readonly index: number;
}

function checkInt(value: number, min: number, what: string): void {
  if (!Number.isInteger(value) || value < min) throw new DataOrderError("INVALID_ARGUMENT", `${what} must be an integer ≥ ${min}, got ${value}`);
}

/** The visiting order of `size` examples in `epoch` (0-based) for `seed` (integer in [0, 2³²)). */
export function epochPermutation(size: number, seed: number, epoch: number): number[] {
  checkInt(size, 0, "size");
  checkInt(epoch, 0, "epoch");
  checkInt(seed, 0, "seed");
  const mixed = (seed ^ Math.imul(epoch + 1, 0x9e3779b9)) >>> 0;
  return new Rng(mixed).shuffle(Array.from({ length: size }, (_, i) => i));
}

/** The next micro-batch of example indices from `cursor`, and the cursor after it. A batch never spans two
 *  epochs: the last batch of an epoch may be shorter (as a PyTorch DataLoader without drop_last). */
export function nextMicroBatch(cursor: DataCursor, size: number, batchSize: number, seed: number): { indices: number[]; cursor: DataCursor } {
  checkInt(size, 1, "size");
  checkInt(batchSize, 1, "batchSize");
  checkInt(cursor.epoch, 0, "cursor.epoch");
  checkInt(cursor.index, 0, "cursor.index");
  let { epoch, index } = cursor;
  if (index >= size) {
    epoch += 1;
    index = 0;
  }
  const order = epochPermutation(size, seed, epoch);
  const indices = order.slice(index, index + batchSize);
  return { indices, cursor: { epoch, index: index + indices.length } };
}
