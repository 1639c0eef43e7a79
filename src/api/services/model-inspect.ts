/** @module api/services/model-inspect
 *
 * Reads just enough of a model file to register it: the format (from the file's magic bytes, ONNX by
 * extension), the size, a streamed sha256, and — when cheap — the vocabulary size and a tokenizer digest.
 *
 * Contracts:
 * - Only paths already admitted are inspected (model-roots.ts decides which host files a tenant may name); an
 *   {@link ModelFileError} names the location and the problem.
 * - GGUF v1 (u32 lengths) and v2/v3 (u64 lengths) headers are parsed; metadata only, tensors are never read.
 * - Safetensors: the JSON header is parsed; the vocabulary size is the first dimension of the embedding
 *   tensor (`model.embed_tokens.weight`, `transformer.wte.weight`, `tok_embeddings.weight`, `token_embd.weight`).
 *   A sibling `tokenizer.json` supplies the tokenizer digest.
 * - The tokenizer digest is sha256 over every token string in id order, each UTF-8 encoded and followed by a
 *   NUL byte, so a GGUF vocabulary and the same vocabulary in a `tokenizer.json` have equal digests.
 * - The model's own chat template, when it has one, goes into `config` as `chatTemplate` with `bosToken` /
 *   `eosToken` (the strings of its BOS and EOS tokens) and `chatTemplateSource`: GGUF `tokenizer.chat_template`
 *   (BOS/EOS from `tokenizer.ggml.bos_token_id` / `eos_token_id`), else a Hugging Face `chat_template.jinja` or
 *   `tokenizer_config.json` `chat_template` (its `default` entry when it lists several; BOS/EOS from `bos_token`
 *   / `eos_token`) beside the file, never through a link that leaves the file's folder. It is read, not judged:
 *   registration checks it (prompt-templates.ts).
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { open, readFile, realpath, stat } from "node:fs/promises";
import { basename, dirname, extname, join } from "node:path";
import { DomainError } from "./errors.ts";

export type InspectedModelFormat = "GGUF" | "SAFETENSORS" | "ONNX";

export interface ModelInspection {
  /** Absolute filesystem path that was read. */
  path: string;
  format: InspectedModelFormat;
  sizeBytes: bigint;
  sha256: string;
  vocabSize: number | null;
  tokenizerHash: string | null;
  /** Small facts from the header (architecture, context length, GGUF version …); never tensor data. */
  config: Record<string, string | number | boolean>;
}

/**
 * UNSUPPORTED_LOCATION: the string is neither a `file://` URL nor an absolute path. LOCATION_REFUSED: the path is
 * not a readable file under the model roots, whatever the reason (model-roots.ts). UNKNOWN_FORMAT / CORRUPT_HEADER:
 * an admitted file that is not a model this platform reads. UNSUPPORTED_MODEL: a model file runners cannot load as
 * the kind it is registered as (model-support.ts).
 */
export type ModelFileProblem = "UNSUPPORTED_LOCATION" | "LOCATION_REFUSED" | "UNKNOWN_FORMAT" | "CORRUPT_HEADER" | "UNSUPPORTED_MODEL";

/** The message of every LOCATION_REFUSED: the same for every path, whatever the reason. */
export const LOCATION_REFUSED_MESSAGE = "is not a readable model file under this server's model roots (PARM_MODEL_ROOTS)";

/** A model location that cannot be registered; `problem` says why, `location` which one. */
export class ModelFileError extends DomainError {
  readonly code = "MODEL_FILE_INVALID";
  constructor(
    readonly location: string,
    readonly problem: ModelFileProblem,
    detail: string,
  ) {
    super(`model file ${location}: ${detail}`);
  }
}

/** Streams the file through sha256. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** Digest of a vocabulary: sha256 over tokens in id order, each followed by a NUL byte. */
export function tokenizerDigest(tokensInIdOrder: readonly string[]): string {
  const hash = createHash("sha256");
  const nul = Buffer.from([0]);
  for (const token of tokensInIdOrder) {
    hash.update(Buffer.from(token, "utf8"));
    hash.update(nul);
  }
  return hash.digest("hex");
}

/**
 * Inspects the model file at `path`, an absolute path the caller has already admitted (model-roots.ts, or a
 * private upload copy); `location` is how errors name it. A file that vanished or became unreadable meanwhile is
 * LOCATION_REFUSED.
 */
export async function inspectModelFile(path: string, location: string = path): Promise<ModelInspection> {
  const info = await stat(path).catch(() => null);
  if (!info?.isFile()) throw new ModelFileError(location, "LOCATION_REFUSED", LOCATION_REFUSED_MESSAGE);
  const head = await readHead(path, 16, location);
  const format = detectFormat(head, path, info.size);
  if (format === null) {
    throw new ModelFileError(location, "UNKNOWN_FORMAT", "is neither GGUF (magic 'GGUF'), safetensors (JSON header) nor .onnx");
  }
  let vocabSize: number | null = null;
  let tokenizerHash: string | null = null;
  let config: Record<string, string | number | boolean> = {};
  switch (format) {
    case "GGUF": {
      const header = await readGgufHeader(path, location);
      vocabSize = header.tokens?.length ?? header.vocabSizeKey ?? null;
      tokenizerHash = header.tokens ? tokenizerDigest(header.tokens) : null;
      const fromGguf = header.chatTemplate === null ? null : { template: header.chatTemplate, bosToken: header.bosToken, eosToken: header.eosToken, source: "gguf" as const };
      config = withChatTemplate(header.config, fromGguf ?? (await readSiblingChatTemplate(path)));
      break;
    }
    case "SAFETENSORS": {
      const header = await readSafetensorsHeader(path, location, info.size);
      vocabSize = header.vocabSize;
      config = withChatTemplate(header.config, await readSiblingChatTemplate(path));
      const tokenizer = await readSiblingTokenizer(path);
      if (tokenizer) {
        tokenizerHash = tokenizerDigest(tokenizer);
        vocabSize ??= tokenizer.length;
      }
      break;
    }
    case "ONNX": {
      config = withChatTemplate(config, await readSiblingChatTemplate(path));
      const tokenizer = await readSiblingTokenizer(path);
      if (tokenizer) {
        tokenizerHash = tokenizerDigest(tokenizer);
        vocabSize = tokenizer.length;
      }
      break;
    }
    default:
      throw new UnreachableFormatError(format);
  }
  return { path, format, sizeBytes: BigInt(info.size), sha256: await sha256File(path), vocabSize, tokenizerHash, config };
}

class UnreachableFormatError extends Error {
  override readonly name = "UnreachableFormatError";
  readonly code = "UNREACHABLE_CASE";
  constructor(value: never) {
    super(`unreachable model format ${String(value)}`);
  }
}

function detectFormat(head: Buffer, path: string, size: number): InspectedModelFormat | null {
  if (head.length >= 4 && head.toString("latin1", 0, 4) === "GGUF") return "GGUF";
  if (head.length >= 9) {
    const headerLength = head.readBigUInt64LE(0);
    if (headerLength > 1n && headerLength + 8n <= BigInt(size) && head[8] === 0x7b /* '{' */) return "SAFETENSORS";
  }
  if (extname(path).toLowerCase() === ".onnx" && size > 0) return "ONNX";
  return null;
}

async function readHead(path: string, bytes: number, location: string): Promise<Buffer> {
  const handle = await open(path, "r").catch(() => {
    throw new ModelFileError(location, "LOCATION_REFUSED", LOCATION_REFUSED_MESSAGE);
  });
  try {
    const buffer = Buffer.alloc(bytes);
    const { bytesRead } = await handle.read(buffer, 0, bytes, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** Largest GGUF metadata section read (the vocabulary of a 256k-token model fits). */
const MAX_GGUF_HEADER_BYTES = 64 * 1024 * 1024;

interface GgufHeader {
  version: number;
  tokens: string[] | null;
  vocabSizeKey: number | null;
  config: Record<string, string | number | boolean>;
  /** `tokenizer.chat_template`, and the BOS / EOS token strings. */
  chatTemplate: string | null;
  bosToken: string | null;
  eosToken: string | null;
}

/** A chat template found with a model file, and where. */
export interface FoundChatTemplate {
  template: string;
  bosToken: string | null;
  eosToken: string | null;
  source: "gguf" | "chat_template.jinja" | "tokenizer_config.json";
}

/** Writes a found chat template into a model's config (see the module contract). */
function withChatTemplate(config: Record<string, string | number | boolean>, found: FoundChatTemplate | null): Record<string, string | number | boolean> {
  if (!found) return config;
  const out: Record<string, string | number | boolean> = { ...config, chatTemplate: found.template, chatTemplateSource: found.source };
  if (found.bosToken !== null) out.bosToken = found.bosToken;
  if (found.eosToken !== null) out.eosToken = found.eosToken;
  return out;
}

/** Sequential reader over a file, refilling a buffer on demand. */
class FileCursor {
  private buffer = Buffer.alloc(0);
  private bufferStart = 0;
  position = 0;
  constructor(
    private readonly handle: Awaited<ReturnType<typeof open>>,
    private readonly size: number,
    private readonly location: string,
  ) {}

  async ensure(bytes: number): Promise<void> {
    const offsetInBuffer = this.position - this.bufferStart;
    if (offsetInBuffer + bytes <= this.buffer.length) return;
    if (this.position + bytes > this.size) {
      throw new ModelFileError(this.location, "CORRUPT_HEADER", `header runs past end of file at byte ${this.position}`);
    }
    if (this.position + bytes > MAX_GGUF_HEADER_BYTES) {
      throw new ModelFileError(this.location, "CORRUPT_HEADER", `header larger than ${MAX_GGUF_HEADER_BYTES} bytes`);
    }
    const length = Math.min(Math.max(bytes, 1 << 20), this.size - this.position);
    const next = Buffer.alloc(length);
    await this.handle.read(next, 0, length, this.position);
    this.buffer = next;
    this.bufferStart = this.position;
  }
  private at(): number {
    return this.position - this.bufferStart;
  }
  async u8(): Promise<number> {
    await this.ensure(1);
    const v = this.buffer.readUInt8(this.at());
    this.position += 1;
    return v;
  }
  async u32(): Promise<number> {
    await this.ensure(4);
    const v = this.buffer.readUInt32LE(this.at());
    this.position += 4;
    return v;
  }
  async u64(): Promise<number> {
    await this.ensure(8);
    const v = this.buffer.readBigUInt64LE(this.at());
    this.position += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new ModelFileError(this.location, "CORRUPT_HEADER", `implausible length ${v} at byte ${this.position - 8}`);
    }
    return Number(v);
  }
  async skip(bytes: number): Promise<void> {
    if (this.position + bytes > this.size) {
      throw new ModelFileError(this.location, "CORRUPT_HEADER", `header runs past end of file at byte ${this.position}`);
    }
    this.position += bytes;
  }
  async bytes(length: number): Promise<Buffer> {
    await this.ensure(length);
    const v = Buffer.from(this.buffer.subarray(this.at(), this.at() + length));
    this.position += length;
    return v;
  }
  async scalar(kind: "i32" | "f32" | "f64" | "i64"): Promise<number> {
    switch (kind) {
      case "i32": {
        await this.ensure(4);
        const v = this.buffer.readInt32LE(this.at());
        this.position += 4;
        return v;
      }
      case "f32": {
        await this.ensure(4);
        const v = this.buffer.readFloatLE(this.at());
        this.position += 4;
        return v;
      }
      case "f64": {
        await this.ensure(8);
        const v = this.buffer.readDoubleLE(this.at());
        this.position += 8;
        return v;
      }
      case "i64": {
        await this.ensure(8);
        const v = Number(this.buffer.readBigInt64LE(this.at()));
        this.position += 8;
        return v;
      }
      default:
        throw new Error(`unreachable scalar kind ${String(kind satisfies never)}`);
    }
  }
}

/** GGUF value type ids (ggml `gguf_type`). */
const GGUF_SCALAR_SIZE: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
const GGUF_STRING = 8;
const GGUF_ARRAY = 9;

/** Parses GGUF metadata (v1: u32 lengths; v2, v3: u64 lengths). */
export async function readGgufHeader(path: string, location = path): Promise<GgufHeader> {
  const handle = await open(path, "r");
  try {
    const { size } = await handle.stat();
    const cursor = new FileCursor(handle, size, location);
    const magic = (await cursor.bytes(4)).toString("latin1");
    if (magic !== "GGUF") throw new ModelFileError(location, "CORRUPT_HEADER", "missing GGUF magic");
    const version = await cursor.u32();
    if (version < 1 || version > 3) throw new ModelFileError(location, "CORRUPT_HEADER", `unsupported GGUF version ${version}`);
    const length = version === 1 ? () => cursor.u32() : () => cursor.u64();
    const tensorCount = await length();
    const kvCount = await length();
    const readString = async (): Promise<string> => (await cursor.bytes(await length())).toString("utf8");
    const readScalar = async (type: number): Promise<string | number | boolean> => {
      switch (type) {
        case 0: return cursor.u8();
        case 1: return ((await cursor.u8()) << 24) >> 24;
        case 2: return (await cursor.bytes(2)).readUInt16LE(0);
        case 3: return (await cursor.bytes(2)).readInt16LE(0);
        case 4: return cursor.u32();
        case 5: return cursor.scalar("i32");
        case 6: return cursor.scalar("f32");
        case 7: return (await cursor.u8()) !== 0;
        case 8: return readString();
        case 10: return cursor.u64();
        case 11: return cursor.scalar("i64");
        case 12: return cursor.scalar("f64");
        default:
          throw new ModelFileError(location, "CORRUPT_HEADER", `unknown GGUF value type ${type} at byte ${cursor.position - 4}`);
      }
    };
    const config: Record<string, string | number | boolean> = { ggufVersion: version, tensorCount };
    let tokens: string[] | null = null;
    let vocabSizeKey: number | null = null;
    let chatTemplate: string | null = null;
    let bosId: number | null = null;
    let eosId: number | null = null;
    for (let i = 0; i < kvCount; i++) {
      const key = await readString();
      const type = await cursor.u32();
      if (type === GGUF_ARRAY) {
        const elementType = await cursor.u32();
        const count = await length();
        if (key === "tokenizer.ggml.tokens" && elementType === GGUF_STRING) {
          tokens = [];
          for (let j = 0; j < count; j++) tokens.push(await readString());
        } else if (elementType === GGUF_STRING) {
          for (let j = 0; j < count; j++) await cursor.skip(await length());
        } else {
          const width = GGUF_SCALAR_SIZE[elementType];
          if (width === undefined) {
            throw new ModelFileError(location, "CORRUPT_HEADER", `array of unknown GGUF type ${elementType} under key ${key}`);
          }
          await cursor.skip(width * count);
        }
        continue;
      }
      const value = await readScalar(type);
      if (key.endsWith(".vocab_size") && typeof value === "number") vocabSizeKey = value;
      if (key === "tokenizer.chat_template" && typeof value === "string") chatTemplate = value;
      if (key === "tokenizer.ggml.bos_token_id" && typeof value === "number") bosId = value;
      if (key === "tokenizer.ggml.eos_token_id" && typeof value === "number") eosId = value;
      if (
        key === "general.architecture" ||
        key === "general.name" ||
        key === "tokenizer.ggml.model" ||
        /^[a-z0-9_]+\.(context_length|embedding_length|block_count|feed_forward_length|attention\.head_count(_kv)?)$/.test(key)
      ) {
        config[key] = value;
      }
    }
    const tokenAt = (id: number | null) => (id === null || tokens === null ? null : (tokens[id] ?? null));
    return { version, tokens, vocabSizeKey, config, chatTemplate, bosToken: tokenAt(bosId), eosToken: tokenAt(eosId) };
  } finally {
    await handle.close();
  }
}

const EMBEDDING_TENSOR_NAMES = [
  "model.embed_tokens.weight",
  "transformer.wte.weight",
  "tok_embeddings.weight",
  "token_embd.weight",
  "embed_tokens.weight",
];

async function readSafetensorsHeader(
  path: string,
  location: string,
  size: number,
): Promise<{ vocabSize: number | null; config: Record<string, string | number | boolean> }> {
  const head = await readHead(path, 8, location);
  const headerLength = Number(head.readBigUInt64LE(0));
  if (headerLength > MAX_GGUF_HEADER_BYTES || headerLength + 8 > size) {
    throw new ModelFileError(location, "CORRUPT_HEADER", `safetensors header length ${headerLength} is implausible`);
  }
  const handle = await open(path, "r");
  let parsed: Record<string, { dtype?: string; shape?: number[] }>;
  try {
    const buffer = Buffer.alloc(headerLength);
    await handle.read(buffer, 0, headerLength, 8);
    parsed = JSON.parse(buffer.toString("utf8"));
  } catch (e) {
    if (e instanceof ModelFileError) throw e;
    throw new ModelFileError(location, "CORRUPT_HEADER", `safetensors header is not JSON (${(e as Error).message})`);
  } finally {
    await handle.close();
  }
  const tensorNames = Object.keys(parsed).filter((name) => name !== "__metadata__");
  let vocabSize: number | null = null;
  for (const name of EMBEDDING_TENSOR_NAMES) {
    const shape = parsed[name]?.shape;
    if (Array.isArray(shape) && typeof shape[0] === "number") {
      vocabSize = shape[0];
      break;
    }
  }
  const dtype = parsed[tensorNames[0] ?? ""]?.dtype;
  const config: Record<string, string | number | boolean> = { tensorCount: tensorNames.length };
  if (typeof dtype === "string") config.dtype = dtype;
  return { vocabSize, config };
}

/** Largest tokenizer_config.json / chat_template.jinja read beside a model. */
const MAX_SIBLING_CONFIG_BYTES = 16 * 1024 * 1024;

/** A regular file of at most MAX_SIBLING_CONFIG_BYTES whose real path is in `dir` (a link elsewhere is not read:
 *  its text is stored and shown to the tenant). */
async function readSmallFile(path: string, dir: string): Promise<string | null> {
  const real = await realpath(path).catch(() => null);
  if (real === null || dirname(real) !== dir) return null;
  const info = await stat(real).catch(() => null);
  if (!info?.isFile() || info.size > MAX_SIBLING_CONFIG_BYTES) return null;
  return readFile(real, "utf8").catch(() => null);
}

function specialTokenText(value: unknown): string | null {
  if (typeof value === "string") return value;
  if (typeof value === "object" && value !== null && typeof (value as { content?: unknown }).content === "string") return (value as { content: string }).content;
  return null;
}

/** The `chat_template` of a parsed tokenizer_config.json: a string, or the `default` (else first) of a named list. */
export function chatTemplateOfTokenizerConfig(config: unknown): string | null {
  if (typeof config !== "object" || config === null) return null;
  const value = (config as { chat_template?: unknown }).chat_template;
  if (typeof value === "string") return value;
  if (!Array.isArray(value)) return null;
  const named = value.filter((e): e is { name?: unknown; template: string } => typeof e === "object" && e !== null && typeof (e as { template?: unknown }).template === "string");
  return (named.find((e) => e.name === "default") ?? named[0])?.template ?? null;
}

/**
 * The Hugging Face chat template beside a model file: `chat_template.jinja`, else `tokenizer_config.json`'s
 * `chat_template`, with the BOS / EOS strings of `tokenizer_config.json`. Null when there is none.
 */
export async function readSiblingChatTemplate(modelPath: string): Promise<FoundChatTemplate | null> {
  const dir = await realpath(dirname(modelPath)).catch(() => null);
  if (dir === null) return null;
  let tokenizerConfig: unknown = null;
  const configText = await readSmallFile(join(dir, "tokenizer_config.json"), dir);
  if (configText !== null) {
    try {
      tokenizerConfig = JSON.parse(configText);
    } catch {
      tokenizerConfig = null;
    }
  }
  const special = (name: string) => (typeof tokenizerConfig === "object" && tokenizerConfig !== null ? specialTokenText((tokenizerConfig as Record<string, unknown>)[name]) : null);
  const jinja = await readSmallFile(join(dir, "chat_template.jinja"), dir);
  if (jinja !== null && jinja.trim() !== "") return { template: jinja, bosToken: special("bos_token"), eosToken: special("eos_token"), source: "chat_template.jinja" };
  const template = chatTemplateOfTokenizerConfig(tokenizerConfig);
  if (template === null || template.trim() === "") return null;
  return { template, bosToken: special("bos_token"), eosToken: special("eos_token"), source: "tokenizer_config.json" };
}

/**
 * Reads the token list (id order) of `tokenizer.json` beside a model file. Accepts the Hugging Face layout
 * (`model.vocab` map plus `added_tokens`) and a plain `tokens` array. Returns null when absent or unusable.
 */
export async function readSiblingTokenizer(modelPath: string): Promise<string[] | null> {
  const candidates = [join(dirname(modelPath), "tokenizer.json"), join(dirname(modelPath), `${basename(modelPath, extname(modelPath))}.tokenizer.json`)];
  for (const candidate of candidates) {
    let text: string;
    try {
      text = await readFile(candidate, "utf8");
    } catch {
      continue;
    }
    try {
      return tokensFromTokenizerJson(JSON.parse(text));
    } catch {
      return null;
    }
  }
  return null;
}

/** Token strings in id order from a parsed tokenizer.json; null when the layout is not recognised. */
export function tokensFromTokenizerJson(json: unknown): string[] | null {
  if (typeof json !== "object" || json === null) return null;
  const root = json as { tokens?: unknown; model?: { vocab?: unknown }; added_tokens?: unknown };
  if (Array.isArray(root.tokens) && root.tokens.every((t) => typeof t === "string")) return root.tokens as string[];
  const vocab = root.model?.vocab;
  const byId = new Map<number, string>();
  if (vocab && typeof vocab === "object" && !Array.isArray(vocab)) {
    for (const [token, id] of Object.entries(vocab as Record<string, unknown>)) if (typeof id === "number") byId.set(id, token);
  } else if (Array.isArray(vocab)) {
    vocab.forEach((entry, id) => {
      if (Array.isArray(entry) && typeof entry[0] === "string") byId.set(id, entry[0]);
    });
  }
  if (Array.isArray(root.added_tokens)) {
    for (const added of root.added_tokens as Array<{ id?: unknown; content?: unknown }>) {
      if (typeof added.id === "number" && typeof added.content === "string") byId.set(added.id, added.content);
    }
  }
  if (byId.size === 0) return null;
  const size = Math.max(...byId.keys()) + 1;
  const tokens: string[] = [];
  for (let id = 0; id < size; id++) tokens.push(byId.get(id) ?? "");
  return tokens;
}
