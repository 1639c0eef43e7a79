/** @module gpu-runner/cli/dump-file
 * A minimal safetensors writer and reader for `parm dump` files, which need F64 and I64 tensors besides F32
 * (the engine's safetensors module stores float32 weights only). Layout per the safetensors spec: u64 LE header
 * length, JSON header (`dtype`, `shape`, `data_offsets` per tensor, optional string map `__metadata__`), padded
 * with spaces to 8 bytes, then the little-endian tensor bytes in header order.
 */

export type DumpTensor =
  | { readonly dtype: "F32"; readonly shape: readonly number[]; readonly data: Float32Array }
  | { readonly dtype: "F64"; readonly shape: readonly number[]; readonly data: Float64Array }
  | { readonly dtype: "I64"; readonly shape: readonly number[]; readonly data: BigInt64Array };

export class DumpFileError extends Error {
  readonly code = "DUMP_FILE_INVALID";
  override readonly name = "DumpFileError";
}

const BYTES = { F32: 4, F64: 8, I64: 8 } as const;

export function writeDumpFile(tensors: ReadonlyMap<string, DumpTensor>, metadata: Readonly<Record<string, string>>): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  const names = [...tensors.keys()].sort();
  for (const name of names) {
    const t = tensors.get(name)!;
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) throw new DumpFileError(`tensor ${name}: shape [${t.shape}] needs ${count} values, has ${t.data.length}`);
    const bytes = count * BYTES[t.dtype];
    header[name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLength = Math.ceil(json.byteLength / 8) * 8;
  const out = new Uint8Array(8 + headerLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.fill(0x20, 8, 8 + headerLength);
  out.set(json, 8);
  let at = 8 + headerLength;
  for (const name of names) {
    const t = tensors.get(name)!;
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    out.set(bytes, at);
    at += bytes.byteLength;
  }
  return out;
}

export function readDumpFile(bytes: Uint8Array): { tensors: Map<string, DumpTensor>; metadata: Record<string, string> } {
  if (bytes.byteLength < 8) throw new DumpFileError("file is shorter than the 8-byte header length");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (8 + headerLength > bytes.byteLength) throw new DumpFileError(`header length ${headerLength} exceeds the file`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  } catch (cause) {
    throw new DumpFileError("header is not JSON", { cause });
  }
  const base = 8 + headerLength;
  const tensors = new Map<string, DumpTensor>();
  for (const [name, entry] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const { dtype, shape, data_offsets: [start, end] } = entry as { dtype: string; shape: number[]; data_offsets: [number, number] };
    const copy = new Uint8Array(end - start);
    copy.set(bytes.subarray(base + start, base + end));
    switch (dtype) {
      case "F32":
        tensors.set(name, { dtype, shape, data: new Float32Array(copy.buffer) });
        break;
      case "F64":
        tensors.set(name, { dtype, shape, data: new Float64Array(copy.buffer) });
        break;
      case "I64":
        tensors.set(name, { dtype, shape, data: new BigInt64Array(copy.buffer) });
        break;
      default:
        throw new DumpFileError(`tensor ${name} has unsupported dtype ${dtype}`);
    }
  }
  return { tensors, metadata: (header.__metadata__ as Record<string, string>) ?? {} };
}
