/**
 * @module gpu-runner/cli/generate
 * `parm generate`: guided generation from the command line.
 *
 *   npm run parm -- generate --base model.gguf [--arm adapter.safetensors …] [--arm-base backbone]
 *     [--alpha 0.3,0.7 …] [--beta 1] --prompt "…" [--max-new-tokens 128] [--temperature T --top-k K --top-p P
 *     --seed S] [--stop STR …] [--threads N] [--execution-provider auto|cpu|webgpu|cuda] [--format text|jsonl]
 *     [--skip-digest-check]
 *
 * Models: a `.gguf` file or a Hugging Face folder (config.json + safetensors + tokenizer.json). `--arm` takes
 * adapter files written by `parm train`: one PARM adapter (α has one weight per dimension, in the file's order),
 * or one or more GENARM adapters (α has one weight per file, in command-line order). The ARM backbone is
 * `--arm-base` (weak-to-strong) or the base; the adapter must have been trained on it (sha256 check) and share the
 * base's vocabulary. Each `--alpha` adds one output; all run in one batch.
 *
 * Output: with one α in text format the text streams to stdout as it is generated; with several, each output is
 * printed when every row has finished. `--format jsonl` prints one JSON object per token and a final result.
 * Timings (time to first token, ms per token, tokens/s) go to stderr. Exit codes: 0 ok, 1 failure (printed as
 * `parm generate: <ErrorName> <code>: message`), 2 usage.
 */
import { readFile, stat } from "node:fs/promises";
import { resolveExecutionProvider } from "../device/index.ts";
import { parseArgs } from "node:util";
import { createGenerator, decodeAdapterFromFile, type GenArmGuides, type GenerateRequest, type ParmArm } from "../engine/decode/index.ts";
import type { SamplingConfig } from "../engine/decode/index.ts";
import { loadGguf, loadHfFolder, type LoadedModel } from "../engine/model/index.ts";
import { importAdapter } from "../engine/train/index.ts";
import { CliUsageError } from "./args.ts";

/** Where the command writes (process streams by default; tests pass collectors). */
export interface CommandIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
}

export const GENERATE_USAGE = `usage: parm generate --base MODEL [--arm ADAPTER]... [--arm-base MODEL] [--alpha A1,A2,...]...
                     [--beta B] --prompt TEXT [--max-new-tokens N] [--temperature T] [--top-k K] [--top-p P]
                     [--seed S] [--stop STRING]... [--threads N] [--execution-provider auto|cpu|webgpu|cuda] [--format text|jsonl] [--skip-digest-check]
  MODEL    a .gguf file or a Hugging Face model folder
  ADAPTER  an adapter file from \`parm train\` (one PARM adapter, or GENARM adapters, one per objective)
  --alpha  a preference vector (one weight per objective); repeat for an α-batched sweep
  --beta   guidance strength: the ARM's weight is 1/β (default 1)
  --temperature 0 (default) decodes greedily`;

interface ParsedGenerateArgs {
  readonly base: string;
  readonly arms: readonly string[];
  readonly armBase?: string;
  readonly alphas: readonly (readonly number[])[];
  readonly beta: number;
  readonly prompt: string;
  readonly maxNewTokens: number;
  readonly sampling: SamplingConfig;
  readonly stop: readonly string[];
  readonly threads?: number;
  /** auto | cpu | webgpu | cuda; undefined: PARM_EXECUTION_PROVIDER (gpu-runner/device). */
  readonly executionProvider?: string;
  readonly format: "text" | "jsonl";
  readonly skipDigestCheck: boolean;
}

function numberOption(name: string, text: string | undefined, check: (v: number) => boolean, what: string): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value) || !check(value)) throw new CliUsageError(`--${name} must be ${what}, got ${JSON.stringify(text)}`);
  return value;
}

/** Parses `generate`'s arguments (without the command name). Throws CliUsageError naming the bad option. */
export function parseGenerateArgs(argv: readonly string[]): ParsedGenerateArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      allowPositionals: false,
      strict: true,
      options: {
        base: { type: "string" },
        arm: { type: "string", multiple: true },
        "arm-base": { type: "string" },
        alpha: { type: "string", multiple: true },
        beta: { type: "string" },
        prompt: { type: "string" },
        "max-new-tokens": { type: "string" },
        temperature: { type: "string" },
        "top-k": { type: "string" },
        "top-p": { type: "string" },
        seed: { type: "string" },
        stop: { type: "string", multiple: true },
        threads: { type: "string" },
        "execution-provider": { type: "string" },
        format: { type: "string" },
        "skip-digest-check": { type: "boolean" },
      },
    }));
  } catch (cause) {
    throw new CliUsageError((cause as Error).message, { cause });
  }
  if (!values.base) throw new CliUsageError("--base is required");
  if (values.prompt === undefined) throw new CliUsageError("--prompt is required");
  const arms = values.arm ?? [];
  if (values["arm-base"] && arms.length === 0) throw new CliUsageError("--arm-base needs at least one --arm adapter");
  const alphas = (values.alpha ?? []).map((text, i) => {
    const parts = text.split(",").map((s) => s.trim());
    const vector = parts.map(Number);
    if (parts.some((s) => s === "") || vector.some((v) => !Number.isFinite(v) || v < 0)) {
      throw new CliUsageError(`--alpha #${i + 1} must be comma-separated weights ≥ 0, got ${JSON.stringify(text)}`);
    }
    return vector;
  });
  if (arms.length > 0 && alphas.length === 0) throw new CliUsageError("guided generation needs at least one --alpha");
  if (arms.length === 0 && alphas.length > 0) throw new CliUsageError("--alpha needs an --arm adapter to steer with");
  const beta = values.beta === "inf" || values.beta === "Infinity" ? Infinity : numberOption("beta", values.beta, (v) => v > 0, "a number > 0 (or inf)") ?? 1;
  const temperature = numberOption("temperature", values.temperature, (v) => v >= 0, "a number ≥ 0") ?? 0;
  const topK = numberOption("top-k", values["top-k"], (v) => Number.isInteger(v) && v >= 0, "an integer ≥ 0");
  const topP = numberOption("top-p", values["top-p"], (v) => v > 0 && v <= 1, "in (0, 1]");
  const seed = numberOption("seed", values.seed, Number.isSafeInteger, "an integer");
  const sampling: SamplingConfig =
    temperature === 0 ? { kind: "greedy" } : { kind: "sample", temperature, topK: topK ?? 0, topP: topP ?? 1, seed: seed ?? 0 };
  const format = values.format ?? "text";
  if (format !== "text" && format !== "jsonl") throw new CliUsageError(`--format must be text or jsonl, got ${JSON.stringify(format)}`);
  const threads = numberOption("threads", values.threads, (v) => Number.isInteger(v) && v >= 1, "an integer ≥ 1");
  return {
    base: values.base,
    arms,
    ...(values["arm-base"] ? { armBase: values["arm-base"] } : {}),
    alphas,
    beta,
    prompt: values.prompt,
    maxNewTokens: numberOption("max-new-tokens", values["max-new-tokens"], (v) => Number.isInteger(v) && v >= 1, "an integer ≥ 1") ?? 128,
    sampling,
    stop: values.stop ?? [],
    ...(threads !== undefined ? { threads } : {}),
    ...(values["execution-provider"] !== undefined ? { executionProvider: values["execution-provider"] } : {}),
    format,
    skipDigestCheck: values["skip-digest-check"] ?? false,
  };
}

/** Loads a `.gguf` file or a Hugging Face folder. */
export async function loadModel(path: string): Promise<LoadedModel> {
  const info = await stat(path).catch((cause: unknown) => {
    throw new CliUsageError(`cannot read model ${path}: ${(cause as Error).message}`);
  });
  return info.isDirectory() ? loadHfFolder(path) : loadGguf(path);
}

async function guidance(args: ParsedGenerateArgs, base: LoadedModel): Promise<ParmArm | GenArmGuides | undefined> {
  if (args.arms.length === 0) return undefined;
  const backbone = args.armBase ? await loadModel(args.armBase) : base;
  const files = await Promise.all(
    args.arms.map(async (path) =>
      importAdapter(new Uint8Array(await readFile(path)), {
        config: backbone.config,
        ...(args.skipDigestCheck ? {} : { baseModelDigest: backbone.source.sha256 }),
      }),
    ),
  );
  const methods = new Set(files.map((f) => f.metadata.method));
  if (methods.size > 1) throw new CliUsageError("--arm files mix PARM and GENARM adapters");
  if (files[0].metadata.method === "PARM") {
    if (files.length > 1) throw new CliUsageError(`PARM guidance uses one adapter, got ${files.length} (GenARM takes several GENARM adapters)`);
    return { model: backbone, adapter: decodeAdapterFromFile(files[0]) };
  }
  return { genarm: files.map((file) => ({ model: backbone, adapter: decodeAdapterFromFile(file) })) };
}

/** Runs `parm generate`; returns the exit code. */
export async function runGenerateCommand(argv: readonly string[], io: CommandIo = process): Promise<number> {
  let args: ParsedGenerateArgs;
  try {
    if (argv.includes("--help") || argv.includes("-h")) {
      io.stdout.write(`${GENERATE_USAGE}\n`);
      return 0;
    }
    args = parseGenerateArgs(argv);
  } catch (error) {
    io.stderr.write(`parm generate: ${(error as Error).message}\n\n${GENERATE_USAGE}\n`);
    return 2;
  }
  let generator;
  try {
    const base = await loadModel(args.base);
    const arm = await guidance(args, base);
    const executionProvider = await resolveExecutionProvider({ explicit: args.executionProvider, threads: args.threads, log: (line) => io.stderr.write(`${line}\n`) });
    generator = createGenerator({ base, ...(arm ? { arm } : {}), ...(args.threads !== undefined ? { threads: args.threads } : {}), executionProvider });
    const request: GenerateRequest = {
      prompt: args.prompt,
      ...(args.alphas.length > 0 ? { alphas: args.alphas } : {}),
      beta: args.beta,
      sampling: args.sampling,
      stop: args.stop,
      maxNewTokens: args.maxNewTokens,
    };
    const rows = Math.max(1, args.alphas.length);
    const warmStart = performance.now();
    await generator.warm(rows, base.tokenizer.encode(args.prompt).length, args.maxNewTokens);
    const warmMs = performance.now() - warmStart;
    const streaming = args.format === "text" && rows === 1;
    if (streaming) io.stdout.write(args.prompt);
    const result = await generator.generate(request, (event) => {
      if (args.format === "jsonl") io.stdout.write(`${JSON.stringify({ type: "token", ...event })}\n`);
      else if (streaming) io.stdout.write(event.text);
    });
    if (args.format === "jsonl") {
      io.stdout.write(`${JSON.stringify({ type: "result", mode: result.mode, promptTokenIds: result.promptTokenIds, outputs: result.outputs, timings: result.timings })}\n`);
    } else if (streaming) {
      io.stdout.write("\n");
    } else {
      for (const out of result.outputs) {
        io.stdout.write(`--- α = [${out.alpha.join(", ")}] (${out.finishReason}, ${out.tokenIds.length} tokens)\n${args.prompt}${out.text}\n`);
      }
    }
    const t = result.timings;
    io.stderr.write(
      `[${result.mode}] ${result.outputs.length} output(s), ${t.generatedTokens} tokens; time to first token ${t.timeToFirstTokenMs.toFixed(1)} ms, ` +
        `${t.msPerToken === null ? "–" : t.msPerToken.toFixed(2)} ms per step, ${t.tokensPerSecond.toFixed(1)} tokens/s (graphs built in ${warmMs.toFixed(0)} ms)\n`,
    );
    return 0;
  } catch (error) {
    if (error instanceof CliUsageError) {
      io.stderr.write(`parm generate: ${error.message}\n`);
      return 2;
    }
    const e = error as Error & { code?: unknown };
    io.stderr.write(`parm generate: ${e.name}${typeof e.code === "string" ? ` ${e.code}` : ""}: ${e.message}\n`);
    return 1;
  } finally {
    await generator?.release();
  }
}
