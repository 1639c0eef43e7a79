/** @module api/services/model-inspect
 *
 * Reads just enough of a model file to register it: the format (from the file's magic bytes, ONNX by
 * extension), the size, a streamed sha256, and — when cheap — the vocabulary size and a tokenizer digest.
 *
 * Contracts:
 * - Only paths already admitted are inspected (model-roots.ts decides which host files a tenant may name); an
 *   {@link ModelFileError} names the location and the problem.
 * - Headers are read by src/formats, the readers the engine loads with: GGUF (v1, v2, v3) metadata streamed from
 *   the file (tensor infos and data are never read); the safetensors JSON header, whose embedding tensor
 *   (`model.embed_tokens.weight`, `transformer.wte.weight`, `tok_embeddings.weight`, `token_embd.weight`) gives
 *   the vocabulary size. A header those readers refuse is CORRUPT_HEADER with their message.
 * - The tokenizer digest is formats' `vocabularyDigest` of the GGUF's `tokenizer.ggml.tokens`, else of a sibling
 *   `tokenizer.json`: the engine's `Tokenizer.digest` of the same vocabulary, so a GGUF vocabulary and the same
 *   vocabulary in a `tokenizer.json` have equal digests.
 * - The model's own chat template, when it has one, goes into `config` as `chatTemplate` with `bosToken` /
 *   `eosToken` (the strings of its BOS and EOS tokens) and `chatTemplateSource`: GGUF `tokenizer.chat_template`
 *   (BOS/EOS from `tokenizer.ggml.bos_token_id` / `eos_token_id`), else a Hugging Face `chat_template.jinja` or
 *   `tokenizer_config.json` `chat_template` (its `default` entry when it lists several; BOS/EOS from `bos_token`
 *   / `eos_token`) beside the file, never through a link that leaves the file's folder. It is read, not judged:
 *   registration checks it (prompt-templates.ts).
 */
import { open, readFile, realpath, stat } from "node:fs/promises";
import { basename, dirname, extname, join } from "node:path";
import {
  FormatError,
  ggufTokens,
  readGgufHeader,
  readGgufHeaderFromFile,
  readSafetensorsHeaderFromFile,
  sha256File,
  tokensFromTokenizerJson,
  vocabularyDigest,
  type GgufValue,
} from "../../formats/index.ts";
import { UnreachableCaseError } from "../../contracts/index.ts";
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
      const header = await readGgufFacts(path, location);
      vocabSize = header.tokens?.length ?? header.vocabSizeKey ?? null;
      tokenizerHash = header.tokens ? vocabularyDigest(header.tokens) : null;
      const fromGguf = header.chatTemplate === null ? null : { template: header.chatTemplate, bosToken: header.bosToken, eosToken: header.eosToken, source: "gguf" as const };
      config = withChatTemplate(header.config, fromGguf ?? (await readSiblingChatTemplate(path)));
      break;
    }
    case "SAFETENSORS": {
      const header = await readSafetensorsFacts(path, location);
      vocabSize = header.vocabSize;
      config = withChatTemplate(header.config, await readSiblingChatTemplate(path));
      const tokenizer = await readSiblingTokenizer(path);
      if (tokenizer) {
        tokenizerHash = vocabularyDigest(tokenizer);
        vocabSize ??= tokenizer.length;
      }
      break;
    }
    case "ONNX": {
      config = withChatTemplate(config, await readSiblingChatTemplate(path));
      const tokenizer = await readSiblingTokenizer(path);
      if (tokenizer) {
        tokenizerHash = vocabularyDigest(tokenizer);
        vocabSize = tokenizer.length;
      }
      break;
    }
    default:
      throw new UnreachableCaseError(format);
  }
  return { path, format, sizeBytes: BigInt(info.size), sha256: await sha256File(path), vocabSize, tokenizerHash, config };
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

/** What registration keeps of a GGUF header. */
interface GgufFacts {
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

/** A format error of src/formats as the CORRUPT_HEADER of `location`; other errors pass. */
function asCorruptHeader(error: unknown, location: string): unknown {
  return error instanceof FormatError ? new ModelFileError(location, "CORRUPT_HEADER", error.message) : error;
}

/** A metadata number as registration stores it (u64/i64 read as bigint become numbers when exact). */
function plainValue(value: GgufValue | undefined): string | number | boolean | null {
  if (typeof value === "bigint") return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : null;
  return value === undefined || Array.isArray(value) ? null : value;
}

/** Header keys kept in `config` besides the version and tensor count. */
const GGUF_CONFIG_KEY = /^(general\.architecture|general\.name|tokenizer\.ggml\.model|[a-z0-9_]+\.(context_length|embedding_length|block_count|feed_forward_length|attention\.head_count(_kv)?))$/;

/** Reads the GGUF metadata (formats/gguf.ts, streamed; at most MAX_GGUF_HEADER_BYTES) and keeps what registration stores. */
export async function readGgufFacts(path: string, location = path): Promise<GgufFacts> {
  const header = await readGgufHeaderFromFile(path, { metadataOnly: true, maxHeaderBytes: MAX_GGUF_HEADER_BYTES }).catch((error: unknown) => {
    throw asCorruptHeader(error, location);
  });
  const config: Record<string, string | number | boolean> = { ggufVersion: header.version, tensorCount: header.tensorCount };
  let vocabSizeKey: number | null = null;
  for (const [key, raw] of header.metadata) {
    const value = plainValue(raw);
    if (value === null) continue;
    if (key.endsWith(".vocab_size") && typeof value === "number") vocabSizeKey = value;
    if (GGUF_CONFIG_KEY.test(key)) config[key] = value;
  }
  const tokens = ggufTokens(header.metadata);
  const text = (key: string) => {
    const value = header.metadata.get(key);
    return typeof value === "string" ? value : null;
  };
  const tokenAt = (key: string) => {
    const id = plainValue(header.metadata.get(key));
    return typeof id !== "number" || tokens === null ? null : (tokens[id] ?? null);
  };
  return { tokens, vocabSizeKey, config, chatTemplate: text("tokenizer.chat_template"), bosToken: tokenAt("tokenizer.ggml.bos_token_id"), eosToken: tokenAt("tokenizer.ggml.eos_token_id") };
}

const EMBEDDING_TENSOR_NAMES = [
  "model.embed_tokens.weight",
  "transformer.wte.weight",
  "tok_embeddings.weight",
  "token_embd.weight",
  "embed_tokens.weight",
];

/** The safetensors header (formats/safetensors.ts): vocabulary size from the embedding tensor, tensor count, dtype. */
async function readSafetensorsFacts(path: string, location: string): Promise<{ vocabSize: number | null; config: Record<string, string | number | boolean> }> {
  const header = await readSafetensorsHeaderFromFile(path, "safetensors").catch((error: unknown) => {
    throw asCorruptHeader(error, location);
  });
  let vocabSize: number | null = null;
  for (const name of EMBEDDING_TENSOR_NAMES) {
    const shape = header.entries.get(name)?.shape;
    if (shape !== undefined && shape.length > 0) {
      vocabSize = shape[0];
      break;
    }
  }
  const first = header.entries.values().next();
  const config: Record<string, string | number | boolean> = { tensorCount: header.entries.size };
  if (!first.done) config.dtype = first.value.dtype;
  return { vocabSize, config };
}

/**
 * The vocabulary (token strings in id order) whose digest registration stores for the file at `path`: a GGUF's
 * `tokenizer.ggml.tokens`, else a sibling `tokenizer.json`; null when there is none or the file is no model.
 */
export async function readModelVocabulary(path: string, location = path): Promise<string[] | null> {
  const info = await stat(path).catch(() => null);
  if (!info?.isFile()) return null;
  const format = detectFormat(await readHead(path, 16, location), path, info.size);
  if (format === null) return null;
  if (format === "GGUF") return (await readGgufFacts(path, location)).tokens;
  return await readSiblingTokenizer(path);
}

/** The `tokenizer.ggml.tokens` of a GGUF read as a stream (e.g. an upload in the artifact store), header only;
 *  null when the stream is no GGUF or its header holds no tokens. */
export async function readStreamedGgufVocabulary(source: AsyncIterable<Uint8Array>): Promise<string[] | null> {
  try {
    return ggufTokens((await readGgufHeader(source, { metadataOnly: true, maxHeaderBytes: MAX_GGUF_HEADER_BYTES })).metadata);
  } catch (error) {
    if (error instanceof FormatError) return null;
    throw error;
  }
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
