/** @module formats/file
 * Positional file reads that fill the whole target: a single `read` may return fewer bytes (Linux caps one read
 * near 2 GiB), so this loops in chunks of at most 1 GiB and throws `TruncatedInputError` at end of file.
 */
import type { FileHandle } from "node:fs/promises";
import { TruncatedInputError } from "./bytes.ts";

const CHUNK = 1 << 30;

export async function readExactly(handle: FileHandle, target: Uint8Array, position: number, what: string): Promise<void> {
  let done = 0;
  while (done < target.byteLength) {
    const length = Math.min(CHUNK, target.byteLength - done);
    const { bytesRead } = await handle.read(target, done, length, position + done);
    if (bytesRead === 0) throw new TruncatedInputError(what, target.byteLength - done, 0);
    done += bytesRead;
  }
}
