/** @module engine/model/hf
 * Loads a Hugging Face model folder: `config.json` (model_type llama, mistral or qwen2), weights from
 * `model.safetensors`, a sharded set listed by `model.safetensors.index.json`, or every `*.safetensors` file, and
 * `tokenizer.json` (+ optional `tokenizer_config.json`).
 *
 * Mapping: HF tensor names → canonical names (model/config.ts); projections are already (out, in). RoPE layout is
 * rotate-half (HF checkpoints permute Q/K for it). qwen2 has q/k/v biases; llama with `attention_bias` is only
 * accepted when the checkpoint carries no o_proj bias. Embeddings are tied when `tie_word_embeddings` is true
 * (lm_head ignored) or when `lm_head.weight` is absent. Mistral's sliding window is honoured by capping
 * `maxSeqLen` at the window, inside which attention is exact. `rotary_emb.inv_freq` buffers are ignored.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { EngineError } from "../util/errors.ts";
import { validateModelWeights, type LoadedModel } from "../util/loaded-model.ts";
import { sha256File, sha256Hex } from "../../../formats/index.ts";
import type { LlamaConfig, WeightTensor } from "./config.ts";
import { loadSafetensorsFile, readSafetensorsHeader } from "./safetensors.ts";
import { HfTokenizer } from "./tokenizer-hf.ts";

export type HfModelErrorCode =
  | "MISSING_FILE"
  | "BAD_CONFIG"
  | "UNSUPPORTED_ARCHITECTURE"
  | "UNSUPPORTED_FEATURE"
  | "UNKNOWN_TENSOR"
  | "DUPLICATE_TENSOR"
  | "VOCABULARY_MISMATCH";

export class HfModelError extends EngineError<HfModelErrorCode> {
  static override readonly category = "model-unavailable";
}

export const SUPPORTED_HF_MODEL_TYPES = ["llama", "mistral", "qwen2"] as const;
export type HfModelType = (typeof SUPPORTED_HF_MODEL_TYPES)[number];

function readJson(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new HfModelError("MISSING_FILE", `${what} not found at ${path}`, { cause: error });
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new HfModelError("BAD_CONFIG", `${path} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
}

/** Maps config.json to LlamaConfig. `tokenizerVocabSize` (when known) must not exceed `vocab_size`. */
export function hfLlamaConfig(json: unknown): LlamaConfig {
  if (typeof json !== "object" || json === null) throw new HfModelError("BAD_CONFIG", "config.json must be a JSON object");
  const c = json as Record<string, unknown>;
  const modelType = c.model_type;
  if (typeof modelType !== "string" || !(SUPPORTED_HF_MODEL_TYPES as readonly string[]).includes(modelType)) {
    throw new HfModelError("UNSUPPORTED_ARCHITECTURE", `config.json model_type ${JSON.stringify(modelType)} is not supported; supported: ${SUPPORTED_HF_MODEL_TYPES.join(", ")}`);
  }
  const int = (key: string, fallback?: number): number => {
    const value = c[key] ?? fallback;
    if (!Number.isInteger(value) || (value as number) <= 0) {
      throw new HfModelError("BAD_CONFIG", `config.json ${key} must be a positive integer, got ${JSON.stringify(c[key])}`);
    }
    return value as number;
  };
  const num = (key: string, fallback: number): number => {
    const value = c[key] ?? fallback;
    if (typeof value !== "number" || !(value > 0)) throw new HfModelError("BAD_CONFIG", `config.json ${key} must be a positive number, got ${JSON.stringify(c[key])}`);
    return value;
  };
  const tokenId = (key: string, fallback: number): number => {
    const raw = c[key];
    const value = Array.isArray(raw) ? raw[0] : raw ?? fallback;
    if (!Number.isInteger(value) || (value as number) < 0) throw new HfModelError("BAD_CONFIG", `config.json ${key} must be a token id, got ${JSON.stringify(raw)}`);
    return value as number;
  };
  const scaling = c.rope_scaling;
  if (scaling !== undefined && scaling !== null) {
    const type = (scaling as { rope_type?: unknown; type?: unknown }).rope_type ?? (scaling as { type?: unknown }).type;
    if (type !== "default") throw new HfModelError("UNSUPPORTED_FEATURE", `config.json rope_scaling ${JSON.stringify(scaling)} is not supported`);
  }
  if (c.mlp_bias === true) throw new HfModelError("UNSUPPORTED_FEATURE", "config.json mlp_bias = true is not supported");
  const hidden = int("hidden_size");
  const nHeads = int("num_attention_heads");
  const headDim = int("head_dim", hidden / nHeads);
  let maxSeqLen = int("max_position_embeddings", 2048);
  if (modelType === "mistral" && Number.isInteger(c.sliding_window) && (c.sliding_window as number) > 0) {
    maxSeqLen = Math.min(maxSeqLen, c.sliding_window as number);
  }
  const qkvBias = modelType === "qwen2" || (modelType === "llama" && c.attention_bias === true);
  const vocabSize = int("vocab_size");
  return {
    vocabSize,
    dim: hidden,
    nLayers: int("num_hidden_layers"),
    nHeads,
    nKvHeads: int("num_key_value_heads", nHeads),
    headDim,
    ffnDim: int("intermediate_size"),
    normEps: num("rms_norm_eps", 1e-6),
    ropeTheta: num("rope_theta", 10000),
    ropeLayout: "rotate-half",
    maxSeqLen,
    tiedEmbeddings: c.tie_word_embeddings === true,
    qkvBias,
    bosId: tokenId("bos_token_id", 1),
    eosId: tokenId("eos_token_id", 2),
  };
}

const HF_LAYER_TENSORS: Readonly<Record<string, string>> = {
  "input_layernorm.weight": "attn_norm",
  "self_attn.q_proj.weight": "wq",
  "self_attn.k_proj.weight": "wk",
  "self_attn.v_proj.weight": "wv",
  "self_attn.q_proj.bias": "bq",
  "self_attn.k_proj.bias": "bk",
  "self_attn.v_proj.bias": "bv",
  "self_attn.o_proj.weight": "wo",
  "post_attention_layernorm.weight": "ffn_norm",
  "mlp.gate_proj.weight": "w_gate",
  "mlp.up_proj.weight": "w_up",
  "mlp.down_proj.weight": "w_down",
};
const HF_GLOBAL_TENSORS: Readonly<Record<string, string>> = {
  "model.embed_tokens.weight": "tok_embeddings",
  "model.norm.weight": "norm",
  "lm_head.weight": "output",
};

/** HF tensor name → canonical name, or null for buffers that carry no weights (rotary inv_freq). */
export function canonicalHfName(name: string): string | null {
  const global = HF_GLOBAL_TENSORS[name];
  if (global) return global;
  if (name.endsWith("rotary_emb.inv_freq")) return null;
  const match = /^model\.layers\.(\d+)\.(.+)$/.exec(name);
  const layerName = match ? HF_LAYER_TENSORS[match[2]] : undefined;
  if (match && layerName) return `layers.${Number(match[1])}.${layerName}`;
  throw new HfModelError("UNKNOWN_TENSOR", `tensor ${name} is not part of the llama-family layout this engine reads`);
}

/** Weight files of a folder: the index's shards, or model.safetensors, or every *.safetensors (name order). */
export function hfWeightFiles(dir: string): string[] {
  const indexPath = join(dir, "model.safetensors.index.json");
  if (existsSync(indexPath)) {
    const index = readJson(indexPath, "model.safetensors.index.json") as { weight_map?: unknown };
    if (typeof index.weight_map !== "object" || index.weight_map === null) {
      throw new HfModelError("BAD_CONFIG", `${indexPath} has no weight_map object`);
    }
    const files = [...new Set(Object.values(index.weight_map as Record<string, unknown>))];
    for (const file of files) {
      if (typeof file !== "string" || basename(file) !== file) throw new HfModelError("BAD_CONFIG", `${indexPath}: shard ${JSON.stringify(file)} is not a file name in the folder`);
      if (!existsSync(join(dir, file))) throw new HfModelError("MISSING_FILE", `shard ${file} listed in the index is missing`);
    }
    return (files as string[]).sort().map((f) => join(dir, f));
  }
  if (existsSync(join(dir, "model.safetensors"))) return [join(dir, "model.safetensors")];
  const shards = readdirSync(dir).filter((f) => f.endsWith(".safetensors")).sort();
  if (shards.length === 0) {
    const hasBin = readdirSync(dir).some((f) => f.endsWith(".bin") || f.endsWith(".pt"));
    throw new HfModelError("MISSING_FILE", `${dir} has no *.safetensors weights${hasBin ? " (PyTorch .bin/.pt files are not read; convert them to safetensors)" : ""}`);
  }
  return shards.map((f) => join(dir, f));
}

export async function loadHfFolder(dir: string): Promise<LoadedModel> {
  const configPath = join(dir, "config.json");
  const baseConfig = hfLlamaConfig(readJson(configPath, "config.json"));
  const tokenizerPath = join(dir, "tokenizer.json");
  const tokenizerJson = readJson(tokenizerPath, "tokenizer.json");
  const tokenizerConfigPath = join(dir, "tokenizer_config.json");
  const tokenizerConfig = existsSync(tokenizerConfigPath) ? readJson(tokenizerConfigPath, "tokenizer_config.json") : {};
  const rawConfig = readJson(configPath, "config.json") as Record<string, unknown>;
  const tokenizer = new HfTokenizer(tokenizerJson, tokenizerConfig, {
    bosId: Number.isInteger(rawConfig.bos_token_id) ? baseConfig.bosId : undefined,
    eosId: rawConfig.eos_token_id !== undefined && rawConfig.eos_token_id !== null ? baseConfig.eosId : undefined,
  });
  if (tokenizer.vocabSize > baseConfig.vocabSize) {
    throw new HfModelError("VOCABULARY_MISMATCH", `tokenizer.json has ${tokenizer.vocabSize} tokens, config.json vocab_size is ${baseConfig.vocabSize}`);
  }
  const files = hfWeightFiles(dir);
  const weights = new Map<string, WeightTensor>();
  const origin = new Map<string, string>();
  let sawLmHead = false;
  for (const file of files) {
    const header = await readSafetensorsHeader(file);
    const wanted: string[] = [];
    const names = new Map<string, string>();
    for (const name of [...header.entries.keys(), ...header.skipped.keys()]) {
      const canonical = canonicalHfName(name);
      if (canonical === null) continue;
      if (canonical === "output") {
        sawLmHead = true;
        if (baseConfig.tiedEmbeddings) continue;
      }
      const previous = origin.get(canonical);
      if (previous) throw new HfModelError("DUPLICATE_TENSOR", `tensor ${name} appears in both ${previous} and ${file}`);
      origin.set(canonical, file);
      wanted.push(name);
      names.set(name, canonical);
    }
    const contents = await loadSafetensorsFile(file, wanted);
    for (const [name, tensor] of contents.tensors) weights.set(names.get(name)!, tensor);
  }
  const config: LlamaConfig = { ...baseConfig, tiedEmbeddings: baseConfig.tiedEmbeddings || !sawLmHead, bosId: tokenizer.bosId, eosId: tokenizer.eosId };
  validateModelWeights(config, weights);
  const hashed = [configPath, tokenizerPath, ...(existsSync(tokenizerConfigPath) ? [tokenizerConfigPath] : []), ...files];
  const lines: string[] = [];
  for (const path of hashed.sort((a, b) => (basename(a) < basename(b) ? -1 : 1))) lines.push(`${basename(path)}\0${await sha256File(path)}\n`);
  return { config, weights, tokenizer, source: { format: "safetensors", sha256: sha256Hex(lines.join("")), path: dir } };
}
