/** @module formats/gguf.test — the GGUF header reader on the real stories260K model (facts from
 *  ../shared/data/tinyllamas-stories260k/README.md), in memory and streamed in any chunking, and its errors. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { TruncatedInputError } from "./bytes.ts";
import { GgufFormatError, ggufTokens, parseGgufHeader, readGgufHeader, readGgufHeaderFromFile, type GgufHeader } from "./gguf.ts";

const modelPath = fileURLToPath(new URL("../../../shared/data/tinyllamas-stories260k/tinyllamas-stories-260k-f32.gguf", import.meta.url));
const bytes = new Uint8Array(readFileSync(modelPath));
const FILE_BYTES = 1182656;
const DATA_OFFSET = 11456;

/** The file's bytes as a stream of `size`-byte chunks, counting what was pulled. */
function chunked(source: Uint8Array, size: number, pulled = { bytes: 0 }): AsyncIterable<Uint8Array> {
  return {
    async *[Symbol.asyncIterator]() {
      for (let at = 0; at < source.byteLength; at += size) {
        const chunk = source.subarray(at, Math.min(at + size, source.byteLength));
        pulled.bytes += chunk.byteLength;
        yield chunk;
      }
    },
  };
}

function assertGoldenFacts(header: GgufHeader): void {
  assert.equal(header.version, 1);
  assert.equal(header.tensorCount, 48);
  assert.equal(header.metadata.size, 18);
  assert.equal(header.metadata.get("general.architecture"), "llama");
  assert.equal(header.metadata.get("general.name"), "tinyllamas-stories-260k");
  assert.equal(header.metadata.get("llama.embedding_length"), 64);
  assert.equal(header.metadata.get("llama.block_count"), 5);
  assert.equal(header.metadata.get("llama.feed_forward_length"), 172);
  assert.equal(header.metadata.get("llama.context_length"), 512);
  assert.equal(header.metadata.get("tokenizer.ggml.model"), "llama");
  const tokens = ggufTokens(header.metadata)!;
  assert.equal(tokens.length, 512);
  assert.deepEqual(tokens.slice(0, 4), ["<unk>", "<s>", "</s>", "<0x00>"]);
  assert.equal(tokens[258], "<0xFF>");
}

test("in memory: the README's layout of the real GGUF v1 file", () => {
  const header = parseGgufHeader(bytes);
  assertGoldenFacts(header);
  assert.equal(header.tensors.length, 48);
  assert.equal(header.dataOffset, DATA_OFFSET);
  assert.equal(header.alignment, 32);
  assert.deepEqual(header.tensors[0], { name: "token_embd.weight", dims: [64, 512], type: 0, offset: 0, elementCount: 32768, byteLength: 131072 });
  assert.deepEqual(header.tensors.find((t) => t.name === "blk.0.ffn_down.weight")?.dims, [172, 64]);
  const last = header.tensors.at(-1)!;
  assert.equal(header.dataOffset + last.offset + last.byteLength, FILE_BYTES, "the last tensor ends at the end of the file");
  assert.throws(() => parseGgufHeader(bytes.subarray(0, 5000)), TruncatedInputError);
});

test("streamed in any chunking it reads what parses in memory, and only the header", async () => {
  const whole = parseGgufHeader(bytes);
  for (const size of [1, 7, 4096, 1 << 20]) {
    const pulled = { bytes: 0 };
    const header = await readGgufHeader(chunked(bytes, size, pulled), {});
    assert.deepEqual(header, whole, `chunks of ${size}`);
    assert.ok(pulled.bytes < DATA_OFFSET + Math.max(size, 128 * 1024), `chunks of ${size}: pulled ${pulled.bytes} bytes`);
  }
  const fromFile = await readGgufHeaderFromFile(modelPath);
  assert.deepEqual(fromFile, whole);
  const metadataOnly = await readGgufHeaderFromFile(modelPath, { metadataOnly: true });
  assertGoldenFacts(metadataOnly);
  assert.equal(metadataOnly.tensors.length, 0);
  assert.ok(metadataOnly.dataOffset < DATA_OFFSET);
});

test("streamed: a truncated header names the byte, a header past maxHeaderBytes is refused, bad magic and version are named", async () => {
  await assert.rejects(readGgufHeader(chunked(bytes.subarray(0, 2000), 333)), (e: unknown) => e instanceof GgufFormatError && e.code === "TRUNCATED" && /past end of file at byte 2000/.test(e.message));
  await assert.rejects(readGgufHeader(chunked(bytes, 1024), { maxHeaderBytes: 4096 }), (e: unknown) => e instanceof GgufFormatError && e.code === "HEADER_TOO_LARGE");
  const header = await readGgufHeader(chunked(bytes, 1024), { maxHeaderBytes: DATA_OFFSET });
  assert.equal(header.tensors.length, 48, "a bound the header fits is enough");
  const bad = bytes.slice(0, 64);
  bad[0] = 0x58;
  await assert.rejects(readGgufHeader(chunked(bad, 64)), (e: unknown) => e instanceof GgufFormatError && e.code === "BAD_MAGIC");
  const bigEndian = bytes.slice(0, 64);
  new DataView(bigEndian.buffer).setUint32(4, 0x03000000, true);
  await assert.rejects(readGgufHeader(chunked(bigEndian, 64)), (e: unknown) => e instanceof GgufFormatError && e.code === "UNSUPPORTED_VERSION" && /big-endian/.test(e.message));
});

test("the stream is released when the header is read or refused", async () => {
  let returned = 0;
  const source = (data: Uint8Array): AsyncIterable<Uint8Array> => ({
    [Symbol.asyncIterator]() {
      let done = false;
      return {
        async next() {
          if (done) return { done: true, value: undefined };
          done = true;
          return { done: false, value: data };
        },
        async return() {
          returned++;
          return { done: true, value: undefined };
        },
      };
    },
  });
  await readGgufHeader(source(bytes));
  await assert.rejects(readGgufHeader(source(new Uint8Array(16))));
  assert.equal(returned, 2);
});
