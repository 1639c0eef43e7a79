/** @module test/helpers/gzip-bomb — decompression bombs built in the test (never committed as fixtures). */
import { createGzip } from "node:zlib";

/** Gzip of `megabytes` MiB of `fill` (default LF), streamed through zlib 1 MiB at a time (300 MiB → ~300 KB). */
export async function gzipOfRepeatedBytes(megabytes: number, fill: string | number = 0x0a): Promise<Buffer> {
  const gzip = createGzip();
  const out: Buffer[] = [];
  gzip.on("data", (chunk: Buffer) => out.push(chunk));
  const done = new Promise<void>((resolve, reject) => {
    gzip.on("end", resolve);
    gzip.on("error", reject);
  });
  const block = Buffer.alloc(1024 * 1024, fill);
  for (let i = 0; i < megabytes; i++) {
    if (!gzip.write(block)) await new Promise((resolve) => gzip.once("drain", resolve));
  }
  gzip.end();
  await done;
  return Buffer.concat(out);
}
