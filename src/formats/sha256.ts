/** @module formats/sha256
 * SHA-256 digests (lower-case hex) of bytes and of files (streamed in 1 MiB chunks, so a multi-GB model file is
 * never held in memory).
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";

export function sha256Hex(...parts: readonly (Uint8Array | string)[]): string {
  const hash = createHash("sha256");
  for (const part of parts) hash.update(part);
  return hash.digest("hex");
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest("hex");
}
