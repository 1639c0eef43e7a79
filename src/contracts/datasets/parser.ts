/**
 * @module contracts/datasets/parser — streaming JSON Lines parser with validation for preference datasets.
 *
 * Input may be plain or gzip (detected by the magic bytes 1f 8b, inflated with node:zlib as it streams, several
 * gzip members allowed). Lines may be split anywhere across chunks, end in LF or CRLF; blank lines are skipped
 * cheaply (but keep their line numbers); a UTF-8 BOM at the start is ignored. Every non-blank line becomes either
 * a {@link PreferenceRecord} or an issue; counts are exact, the issue list is capped. The upload limits of
 * limits.ts (decompressed bytes, expansion ratio, lines) stop parsing with a fatal issue naming the limit, as
 * soon as the bytes read so far break one: a decompression bomb is refused after about a megabyte of output.
 */
import { constants as bufferConstants } from "node:buffer";
import { createGunzip, gunzipSync, constants as zlibConstants, type Gunzip } from "node:zlib";
import { DEFAULT_DATASET_LIMITS, EXPANSION_RATIO_FLOOR_BYTES, decompressionProblem, type DatasetLimits } from "./limits.ts";
import { LineValidator, type LineValidatorOptions } from "./line-validator.ts";
import {
  DEFAULT_LABEL_NAMES,
  DatasetFormatSchema,
  SplitRatiosSchema,
  type DatasetFormat,
  type DatasetIssue,
  type DatasetParseResult,
  type PreferenceRecord,
  type SplitRatios,
} from "./types.ts";

/** Parser options; the upload limits (limits.ts) default to {@link DEFAULT_DATASET_LIMITS}. */
export interface DatasetParserOptions extends Partial<DatasetLimits> {
  readonly splitRatios: SplitRatios;
  /** Names for the format's labels, same count and order as {@link DEFAULT_LABEL_NAMES} (e.g. dimension ids). */
  readonly labelNames?: readonly string[];
  /** How many issues the report lists (default 100); counts stay exact. */
  readonly issueLimit?: number;
  /** Longest accepted line in bytes (default 4 MiB); longer lines are TOO_LARGE. */
  readonly maxLineBytes?: number;
  /** Keep accepted records in the result (default true); set false with `onRecord` to stream them. */
  readonly retainRecords?: boolean;
  /** Called for each accepted record, in line order. */
  readonly onRecord?: (record: PreferenceRecord) => void;
}

/** Options are unusable (ratios, label names, limits, format). */
export class DatasetOptionsError extends Error {
  override readonly name = "DatasetOptionsError";
  readonly code = "INVALID_DATASET_OPTIONS" as const;
}

/** `push` or `end` called after `end`. */
export class DatasetParserClosedError extends Error {
  override readonly name = "DatasetParserClosedError";
  readonly code = "DATASET_PARSER_CLOSED" as const;
  constructor() {
    super("the dataset parser has already ended");
  }
}

export interface DatasetParser {
  /** Feeds the next chunk. The promise resolves once the chunk is parsed (await it for backpressure); it never rejects. */
  push(chunk: Uint8Array): Promise<void>;
  /** Signals end of input and returns records and report once everything is parsed. */
  end(): Promise<DatasetParseResult>;
  /** The problem that stopped parsing, once there is one: later chunks are ignored, so a caller may stop reading. */
  readonly fatal: DatasetIssue | null;
}

const DEFAULT_ISSUE_LIMIT = 100;
const DEFAULT_MAX_LINE_BYTES = 4 * 1024 * 1024;

function nonNegativeInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 0) throw new DatasetOptionsError(`${name} must be a non-negative integer, got ${value}`);
  return value;
}

function resolveLimits(options: Partial<DatasetLimits>): DatasetLimits {
  const ratio = options.maxExpansionRatio ?? DEFAULT_DATASET_LIMITS.maxExpansionRatio;
  if (!(ratio >= 1)) throw new DatasetOptionsError(`maxExpansionRatio must be at least 1, got ${ratio}`);
  return {
    maxDecompressedBytes: nonNegativeInteger("maxDecompressedBytes", options.maxDecompressedBytes, DEFAULT_DATASET_LIMITS.maxDecompressedBytes),
    maxExpansionRatio: ratio,
    maxLines: nonNegativeInteger("maxLines", options.maxLines, DEFAULT_DATASET_LIMITS.maxLines),
  };
}

function resolveOptions(format: DatasetFormat, options: DatasetParserOptions): LineValidatorOptions {
  if (!DatasetFormatSchema.safeParse(format).success) {
    throw new DatasetOptionsError(`unknown dataset format ${JSON.stringify(format)}; expected one of HH_RLHF, PKU_SAFERLHF, GENERIC`);
  }
  const ratios = SplitRatiosSchema.safeParse(options.splitRatios);
  if (!ratios.success) {
    throw new DatasetOptionsError(`splitRatios: ${ratios.error.issues.map((i) => `${i.path.join(".") || "(root)"} ${i.message}`).join("; ")}`);
  }
  const defaults = DEFAULT_LABEL_NAMES[format];
  const labelNames = options.labelNames ?? defaults;
  if (labelNames.length !== defaults.length || new Set(labelNames).size !== labelNames.length || labelNames.some((n) => n === "")) {
    throw new DatasetOptionsError(
      `labelNames for ${format} must be ${defaults.length} distinct non-empty names (for ${defaults.join(", ")}), got ${JSON.stringify(labelNames)}`,
    );
  }
  return {
    format,
    ratios: ratios.data,
    labelNames,
    issueLimit: nonNegativeInteger("issueLimit", options.issueLimit, DEFAULT_ISSUE_LIMIT),
    maxLineBytes: nonNegativeInteger("maxLineBytes", options.maxLineBytes, DEFAULT_MAX_LINE_BYTES),
    limits: resolveLimits(options),
    retainRecords: options.retainRecords ?? true,
    onRecord: options.onRecord,
  };
}

function isGzipMagic(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/**
 * Creates a streaming parser. Push chunks as they arrive, then `end()`. Throws {@link DatasetOptionsError} for
 * unusable options (unknown format, ratios not summing to 1, wrong number of label names).
 */
export function createDatasetParser(format: DatasetFormat, options: DatasetParserOptions): DatasetParser {
  const resolved = resolveOptions(format, options);
  const validator = new LineValidator(resolved);
  let head: Uint8Array[] = [];
  let headBytes = 0;
  let mode: "undecided" | "plain" | "gzip" = "undecided";
  let gunzip: Gunzip | null = null;
  let gunzipClosed: Promise<void> | null = null;
  let ended = false;

  const startGunzip = (): Gunzip => {
    const stream = createGunzip();
    stream.on("data", (out: Buffer) => {
      // bytesWritten: compressed bytes the engine has consumed so far (for the expansion ratio).
      validator.accept(out, stream.bytesWritten);
      if (validator.fatal) stream.destroy();
    });
    gunzipClosed = new Promise<void>((resolve) => {
      stream.on("error", (error: Error) => {
        validator.stop("CORRUPT_GZIP", `the gzip stream is corrupt: ${error.message}`);
        resolve();
      });
      stream.on("close", () => resolve());
    });
    return stream;
  };

  const feed = (chunk: Uint8Array): Promise<void> => {
    if (mode === "plain") {
      validator.accept(chunk, null);
      return Promise.resolve();
    }
    const stream = gunzip as Gunzip;
    if (validator.fatal || stream.destroyed) return Promise.resolve();
    // A stream destroyed mid-write (a limit hit) may never call back: its close settles the push too.
    return Promise.race([new Promise<void>((resolve) => stream.write(chunk, () => resolve())), gunzipClosed as Promise<void>]);
  };

  const decide = (): void => {
    const bytes = concatBytes(head);
    head = [];
    mode = isGzipMagic(bytes) ? "gzip" : "plain";
    if (mode === "gzip") gunzip = startGunzip();
    void feed(bytes);
  };

  return {
    push(chunk: Uint8Array): Promise<void> {
      if (ended) throw new DatasetParserClosedError();
      if (chunk.length === 0) return Promise.resolve();
      if (mode !== "undecided") return feed(chunk);
      head.push(chunk.slice());
      headBytes += chunk.length;
      if (headBytes < 2) return Promise.resolve();
      decide();
      return Promise.resolve();
    },
    async end(): Promise<DatasetParseResult> {
      if (ended) throw new DatasetParserClosedError();
      ended = true;
      if (mode === "undecided") decide();
      if (mode === "gzip") {
        const stream = gunzip as Gunzip;
        if (!stream.destroyed) stream.end();
        await gunzipClosed;
      }
      validator.finish();
      return validator.result(mode === "gzip");
    },
    get fatal(): DatasetIssue | null {
      return validator.fatal;
    },
  };
}

/** Most bytes `gunzipSync` may produce for `compressed` input bytes before a limit is broken (or a Buffer is full). */
function inflateCap(limits: DatasetLimits, compressed: number): number {
  const byRatio = Math.max(EXPANSION_RATIO_FLOOR_BYTES, limits.maxExpansionRatio * compressed);
  return Math.min(limits.maxDecompressedBytes, byRatio, bufferConstants.MAX_LENGTH - 2);
}

/** Inflates a whole gzip upload, at most `cap` + 1 bytes; `tooLarge` when there were more, `corruption` when damaged. */
function inflate(bytes: Uint8Array, cap: number): { inflated: Uint8Array; tooLarge: boolean; corruption: string | null } {
  const maxOutputLength = cap + 1;
  try {
    return { inflated: gunzipSync(bytes, { maxOutputLength }), tooLarge: false, corruption: null };
  } catch (error) {
    if ((error as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") return { inflated: new Uint8Array(0), tooLarge: true, corruption: null };
    // Keep what inflates before the damage, as the streaming parser does.
    let inflated: Uint8Array;
    try {
      inflated = gunzipSync(bytes, { maxOutputLength, finishFlush: zlibConstants.Z_SYNC_FLUSH });
    } catch {
      inflated = new Uint8Array(0);
    }
    return { inflated, tooLarge: false, corruption: (error as Error).message };
  }
}

/**
 * Parses a whole upload held in memory (plain or gzip), synchronously. Same records and report as the
 * streaming parser fed the same bytes in one chunk, except that a gzip upload breaking a limit is refused
 * before any line is validated.
 */
export function parseDataset(bytes: Uint8Array, format: DatasetFormat, options: DatasetParserOptions): DatasetParseResult {
  const resolved = resolveOptions(format, options);
  const validator = new LineValidator(resolved);
  if (!isGzipMagic(bytes)) {
    validator.accept(bytes, null);
    validator.finish();
    return validator.result(false);
  }
  const cap = inflateCap(resolved.limits, bytes.length);
  const { inflated, tooLarge, corruption } = inflate(bytes, cap);
  if (tooLarge) {
    const problem = decompressionProblem(resolved.limits, cap + 2, bytes.length);
    validator.stop(problem?.code ?? "TOO_LARGE", problem?.reason ?? `the upload inflates to more than ${cap} bytes, the most one buffer holds; use the streaming parser`);
    return validator.result(true);
  }
  validator.accept(inflated, bytes.length);
  if (corruption !== null) {
    validator.stop("CORRUPT_GZIP", `the gzip stream is corrupt: ${corruption}`);
    return validator.result(true);
  }
  validator.finish();
  return validator.result(true);
}

/** Parses an async byte stream (e.g. a file or HTTP body) with backpressure. */
export async function parseDatasetStream(
  source: AsyncIterable<Uint8Array>,
  format: DatasetFormat,
  options: DatasetParserOptions,
): Promise<DatasetParseResult> {
  const parser = createDatasetParser(format, options);
  for await (const chunk of source) await parser.push(chunk);
  return parser.end();
}
