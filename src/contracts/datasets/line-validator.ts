/**
 * @module contracts/datasets/line-validator — validates decompressed upload bytes line by line and builds the
 * report; shared by the streaming and one-shot parser entry points (parser.ts).
 *
 * Bytes go through a {@link LineSplitter} (blank lines are skipped without decoding). Each non-blank line is
 * decoded (UTF-8, fatal), refused when it holds U+0000 raw or escaped (`\u0000`, found in any string or key
 * of its JSON value: NUL_CHARACTER), parsed and interpreted in the dataset's format. The upload limits
 * (limits.ts) stop the validation with a fatal issue; later bytes are ignored.
 */
import { findNulCharacter, NUL_CHARACTER } from "../nul-character.ts";
import { interpretRecord } from "./formats.ts";
import { decompressionProblem, tooManyLines, type DatasetLimits } from "./limits.ts";
import { LineSplitter, type LineSink } from "./line-splitter.ts";
import { pairHash, splitForHash } from "./split.ts";
import {
  DATASET_ISSUE_CODES,
  DATASET_SPLITS,
  type DatasetFormat,
  type DatasetIssue,
  type DatasetIssueCode,
  type DatasetParseResult,
  type DatasetValidationReport,
  type PreferenceRecord,
  type SplitRatios,
} from "./types.ts";

/** Options of a validator, already checked (parser.ts resolves them). */
export interface LineValidatorOptions {
  readonly format: DatasetFormat;
  readonly ratios: SplitRatios;
  readonly labelNames: readonly string[];
  readonly issueLimit: number;
  readonly maxLineBytes: number;
  readonly limits: DatasetLimits;
  readonly retainRecords: boolean;
  readonly onRecord: ((record: PreferenceRecord) => void) | undefined;
}

/** How JSON text spells U+0000 (the only escape for it). */
const ESCAPED_NUL = "\\u0000";

function zeroCounts<K extends string>(keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
}

function hasBom(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
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

/** The NUL_CHARACTER reason for a line's text and parsed value, or null when neither holds U+0000. */
function nulReason(text: string, value: unknown): string | null {
  if (!text.includes(ESCAPED_NUL)) return null;
  const path = findNulCharacter(value);
  if (path === null) return null;
  const where = path === "" ? "the line's string" : `field "${path}"`;
  return `${where} holds a NUL character (\\u0000), which cannot be stored`;
}

/** Validates lines into records and a report; see the module contract. */
export class LineValidator implements LineSink {
  private readonly decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  private readonly splitter: LineSplitter;
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

  constructor(private readonly options: LineValidatorOptions) {
    this.labelCounts = Object.fromEntries(options.labelNames.map((n) => [n, { 0: 0, 1: 0 }]));
    this.splitter = new LineSplitter({ maxLineBytes: options.maxLineBytes, maxLines: options.limits.maxLines }, this);
  }

  /** Records a problem that stops parsing at the next line; later bytes are ignored. */
  stop(code: DatasetIssueCode, reason: string, line = this.splitter.lines + 1): void {
    if (this.fatal) return;
    this.fatal = { line, code, reason };
    this.note(this.fatal);
  }

  /**
   * Takes the next decompressed bytes. `compressedBytes`: gzip bytes read so far (null for a plain upload), for
   * the expansion ratio. Stops (fatal) when maxDecompressedBytes or maxExpansionRatio would be broken.
   */
  accept(bytes: Uint8Array, compressedBytes: number | null): void {
    if (this.fatal) return;
    const problem = decompressionProblem(this.options.limits, this.totalBytes + bytes.length, compressedBytes);
    if (problem) {
      this.stop(problem.code, problem.reason);
      return;
    }
    this.totalBytes += bytes.length;
    this.splitter.push(bytes);
  }

  /** Ends the input (a final line without LF is validated). */
  finish(): void {
    if (!this.fatal) this.splitter.end();
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

  /** LineSink: a line over maxLineBytes. */
  oversize(lineNumber: number): void {
    this.totalLines++;
    this.reject(lineNumber, "TOO_LARGE", `line is longer than ${this.options.maxLineBytes} bytes`);
  }

  /** LineSink: the line beyond maxLines. */
  tooManyLines(lineNumber: number): void {
    const problem = tooManyLines(this.options.limits);
    this.stop(problem.code, problem.reason, lineNumber);
  }

  /** LineSink: one non-blank line. */
  line(lineNumber: number, raw: Uint8Array): void {
    const bytes = lineNumber === 1 && hasBom(raw) ? raw.subarray(3) : raw;
    let text: string;
    try {
      text = this.decoder.decode(bytes);
    } catch {
      this.totalLines++;
      this.reject(lineNumber, "NOT_UTF8", `line is not valid UTF-8 (invalid byte sequence at byte ${firstInvalidUtf8(bytes)})`);
      return;
    }
    if (text.trim() === "") return;
    this.totalLines++;
    const nul = text.indexOf(NUL_CHARACTER);
    if (nul >= 0) {
      this.reject(lineNumber, "NUL_CHARACTER", `line holds a NUL character (U+0000) at character ${nul + 1}, which cannot be stored`);
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      this.reject(lineNumber, "MALFORMED_JSON", `malformed JSON: ${(error as Error).message}`);
      return;
    }
    const nulProblem = nulReason(text, value);
    if (nulProblem !== null) this.reject(lineNumber, "NUL_CHARACTER", nulProblem);
    else this.interpret(lineNumber, value);
  }

  private interpret(line: number, value: unknown): void {
    const pair = interpretRecord(this.options.format, value);
    if (!pair.ok) {
      this.reject(line, pair.code, pair.reason);
      return;
    }
    const hash = pairHash(pair.prompt, pair.response0, pair.response1);
    const split = splitForHash(hash, this.options.ratios);
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
    const record: PreferenceRecord = { line, prompt: pair.prompt, response0: pair.response0, response1: pair.response1, preferences, pairHash: hash, split };
    if (this.options.retainRecords) this.records.push(record);
    this.options.onRecord?.(record);
  }

  private reject(line: number, code: DatasetIssueCode, reason: string): void {
    this.rejected++;
    this.note({ line, code, reason });
  }

  /** Counts an issue and lists it while under issueLimit. Reasons never carry U+0000 (reports are stored as jsonb). */
  private note(issue: DatasetIssue): void {
    this.countsByCode[issue.code]++;
    const safe = issue.reason.includes(NUL_CHARACTER) ? { ...issue, reason: issue.reason.replaceAll(NUL_CHARACTER, ESCAPED_NUL) } : issue;
    if (this.issues.length < this.options.issueLimit) this.issues.push(safe);
  }
}
