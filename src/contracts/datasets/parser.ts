/**
 * @module contracts/datasets/parser — streaming JSON Lines parser with validation for preference datasets.
 *
 * Input may be plain or gzip (detected by the magic bytes 1f 8b, inflated with node:zlib as it streams, several
 * gzip members allowed). Lines may be split anywhere across chunks, end in LF or CRLF; blank lines are skipped
 * (but keep their line numbers); a UTF-8 BOM at the start is ignored. Every non-blank line becomes either a
 * {@link PreferenceRecord} or an issue; counts are exact, the issue list is capped.
 */
import { createGunzip, gunzipSync, constants as zlibConstants, type Gunzip } from "node:zlib";
import { interpretRecord } from "./formats.ts";
import { pairHash, splitForHash } from "./split.ts";
import {
  DATASET_ISSUE_CODES,
  DATASET_SPLITS,
  DEFAULT_LABEL_NAMES,
  DatasetFormatSchema,
  SplitRatiosSchema,
  type DatasetFormat,
  type DatasetIssue,
  type DatasetIssueCode,
  type DatasetParseResult,
  type DatasetSplit,
  type DatasetValidationReport,
  type PreferenceRecord,
  type SplitRatios,
} from "./types.ts";

export interface DatasetParserOptions {
  readonly splitRatios: SplitRatios;
  /** Names for the format's labels, same count and order as {@link DEFAULT_LABEL_NAMES} (e.g. dimension ids). */
  readonly labelNames?: readonly string[];
  /** How many issues the report lists (default 100); counts stay exact. */
  readonly issueLimit?: number;
  /** Longest accepted line in bytes (default 4 MiB); longer lines are TOO_LARGE. */
  readonly maxLineBytes?: number;
  /** Most bytes after decompression (default 2 GiB); beyond it parsing stops with a fatal TOO_LARGE. */
  readonly maxTotalBytes?: number;
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
}

const DEFAULT_ISSUE_LIMIT = 100;
const DEFAULT_MAX_LINE_BYTES = 4 * 1024 * 1024;
const DEFAULT_MAX_TOTAL_BYTES = 2 * 1024 * 1024 * 1024;
const LF = 0x0a;
const CR = 0x0d;

interface ResolvedOptions {
  readonly format: DatasetFormat;
  readonly ratios: SplitRatios;
  readonly labelNames: readonly string[];
  readonly issueLimit: number;
  readonly maxLineBytes: number;
  readonly maxTotalBytes: number;
  readonly retainRecords: boolean;
  readonly onRecord: ((record: PreferenceRecord) => void) | undefined;
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 0) throw new DatasetOptionsError(`${name} must be a non-negative integer, got ${value}`);
  return value;
}

function resolveOptions(format: DatasetFormat, options: DatasetParserOptions): ResolvedOptions {
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
    issueLimit: positiveInteger("issueLimit", options.issueLimit, DEFAULT_ISSUE_LIMIT),
    maxLineBytes: positiveInteger("maxLineBytes", options.maxLineBytes, DEFAULT_MAX_LINE_BYTES),
    maxTotalBytes: positiveInteger("maxTotalBytes", options.maxTotalBytes, DEFAULT_MAX_TOTAL_BYTES),
    retainRecords: options.retainRecords ?? true,
    onRecord: options.onRecord,
  };
}

function zeroCounts<K extends string>(keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
}

/** Splits decompressed bytes into lines and validates each; shared by the streaming and one-shot entry points. */
class LineValidator {
  private readonly decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  private pieces: Uint8Array[] = [];
  private pieceBytes = 0;
  private oversize = false;
  private lineNumber = 0;
  private totalBytes = 0;
  private totalLines = 0;
  private accepted = 0;
  private rejected = 0;
  private duplicatePairs = 0;
  private readonly seenHashes = new Set<string>();
  private readonly issues: DatasetIssue[] = [];
  private readonly countsByCode = zeroCounts(DATASET_ISSUE_CODES);
  private readonly splitCounts = zeroCounts(DATASET_SPLITS);
  private readonly labelCounts: Record<string, { 0: number; 1: number }>;
  private readonly records: PreferenceRecord[] = [];
  fatal: DatasetIssue | null = null;

  constructor(private readonly options: ResolvedOptions) {
    this.labelCounts = Object.fromEntries(options.labelNames.map((n) => [n, { 0: 0, 1: 0 }]));
  }

  /** Records a problem that stops parsing; later bytes are ignored. */
  stop(code: DatasetIssueCode, reason: string): void {
    if (this.fatal) return;
    this.fatal = { line: this.lineNumber + 1, code, reason };
    this.note(this.fatal);
  }

  accept(bytes: Uint8Array): void {
    if (this.fatal) return;
    if (this.totalBytes + bytes.length > this.options.maxTotalBytes) {
      this.stop("TOO_LARGE", `the upload exceeds ${this.options.maxTotalBytes} bytes after decompression`);
      return;
    }
    this.totalBytes += bytes.length;
    let start = 0;
    while (start < bytes.length) {
      const newline = bytes.indexOf(LF, start);
      const stop = newline < 0 ? bytes.length : newline;
      this.append(bytes.subarray(start, stop));
      if (newline < 0) break;
      this.finishLine();
      start = newline + 1;
    }
  }

  finish(): void {
    if (this.fatal) return;
    if (this.pieceBytes > 0 || this.oversize) this.finishLine();
  }

  result(gzip: boolean): DatasetParseResult {
    const report: DatasetValidationReport = {
      format: this.options.format,
      totalLines: this.totalLines,
      accepted: this.accepted,
      rejected: this.rejected,
      issues: this.issues,
      issuesTruncated: Object.values(this.countsByCode).reduce((a, b) => a + b, 0) > this.issues.length,
      fatal: this.fatal,
      duplicatePairs: this.duplicatePairs,
      countsByCode: this.countsByCode,
      splitCounts: this.splitCounts,
      labelCounts: this.labelCounts,
      bytes: this.totalBytes,
      gzip,
    };
    return { records: this.records, report };
  }

  private append(part: Uint8Array): void {
    if (part.length === 0 || this.oversize) return;
    if (this.pieceBytes + part.length > this.options.maxLineBytes) {
      this.oversize = true;
      this.pieces = [];
      this.pieceBytes = 0;
      return;
    }
    // Chunks may be reused by the caller: keep a copy of partial lines.
    this.pieces.push(part.slice());
    this.pieceBytes += part.length;
  }

  private takeLine(): Uint8Array {
    let line: Uint8Array;
    if (this.pieces.length === 1) line = this.pieces[0];
    else {
      line = new Uint8Array(this.pieceBytes);
      let offset = 0;
      for (const piece of this.pieces) {
        line.set(piece, offset);
        offset += piece.length;
      }
    }
    this.pieces = [];
    this.pieceBytes = 0;
    return line;
  }

  private finishLine(): void {
    this.lineNumber++;
    const line = this.lineNumber;
    if (this.oversize) {
      this.oversize = false;
      this.totalLines++;
      this.reject(line, "TOO_LARGE", `line is longer than ${this.options.maxLineBytes} bytes`);
      return;
    }
    let bytes = this.takeLine();
    if (bytes.length > 0 && bytes[bytes.length - 1] === CR) bytes = bytes.subarray(0, bytes.length - 1);
    if (line === 1 && bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);
    let text: string;
    try {
      text = this.decoder.decode(bytes);
    } catch {
      this.totalLines++;
      this.reject(line, "NOT_UTF8", `line is not valid UTF-8 (invalid byte sequence at byte ${firstInvalidUtf8(bytes)})`);
      return;
    }
    if (text.trim() === "") return;
    this.totalLines++;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      this.reject(line, "MALFORMED_JSON", `malformed JSON: ${(error as Error).message}`);
      return;
    }
    const pair = interpretRecord(this.options.format, value);
    if (!pair.ok) {
      this.reject(line, pair.code, pair.reason);
      return;
    }
    const hash = pairHash(pair.prompt, pair.response0, pair.response1);
    const split: DatasetSplit = splitForHash(hash, this.options.ratios);
    const preferences: Record<string, 0 | 1> = {};
    this.options.labelNames.forEach((name, i) => {
      const preferred = pair.labels[i];
      preferences[name] = preferred;
      this.labelCounts[name][preferred]++;
    });
    if (this.seenHashes.has(hash)) this.duplicatePairs++;
    else this.seenHashes.add(hash);
    this.accepted++;
    this.splitCounts[split]++;
    const record: PreferenceRecord = {
      line,
      prompt: pair.prompt,
      response0: pair.response0,
      response1: pair.response1,
      preferences,
      pairHash: hash,
      split,
    };
    if (this.options.retainRecords) this.records.push(record);
    this.options.onRecord?.(record);
  }

  private reject(line: number, code: DatasetIssueCode, reason: string): void {
    this.rejected++;
    this.note({ line, code, reason });
  }

  private note(issue: DatasetIssue): void {
    this.countsByCode[issue.code]++;
    if (this.issues.length < this.options.issueLimit) this.issues.push(issue);
  }
}

/** Byte offset of the first invalid UTF-8 sequence (for the report). */
function firstInvalidUtf8(bytes: Uint8Array): number {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let lo = 0;
  let hi = bytes.length;
  // Largest prefix that decodes (a prefix ending mid-sequence fails too, so this lands on the bad sequence's start).
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    try {
      decoder.decode(bytes.subarray(0, mid));
      lo = mid;
    } catch {
      hi = mid - 1;
    }
  }
  return lo;
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
      validator.accept(out);
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
      validator.accept(chunk);
      return Promise.resolve();
    }
    const stream = gunzip as Gunzip;
    if (validator.fatal || stream.destroyed) return Promise.resolve();
    return new Promise<void>((resolve) => stream.write(chunk, () => resolve()));
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
  };
}

/**
 * Parses a whole upload held in memory (plain or gzip), synchronously. Same records and report as the
 * streaming parser fed the same bytes.
 */
export function parseDataset(bytes: Uint8Array, format: DatasetFormat, options: DatasetParserOptions): DatasetParseResult {
  const resolved = resolveOptions(format, options);
  const validator = new LineValidator(resolved);
  if (!isGzipMagic(bytes)) {
    validator.accept(bytes);
    validator.finish();
    return validator.result(false);
  }
  const maxOutputLength = Math.min(resolved.maxTotalBytes + 1, 2 ** 32);
  let inflated: Uint8Array;
  let corruption: string | null = null;
  try {
    inflated = gunzipSync(bytes, { maxOutputLength });
  } catch (error) {
    if ((error as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") {
      validator.stop("TOO_LARGE", `the upload exceeds ${resolved.maxTotalBytes} bytes after decompression`);
      return validator.result(true);
    }
    corruption = (error as Error).message;
    // Keep what inflates before the damage, as the streaming parser does.
    try {
      inflated = gunzipSync(bytes, { maxOutputLength, finishFlush: zlibConstants.Z_SYNC_FLUSH });
    } catch {
      inflated = new Uint8Array(0);
    }
  }
  validator.accept(inflated);
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
