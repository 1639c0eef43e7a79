/**
 * @module contracts/datasets/line-splitter — splits a byte stream into numbered lines on LF (0x0A).
 *
 * Works on bytes, never on strings: a line lying inside one chunk is handed over as a view of that chunk (no
 * copy); only a line split across chunks is copied, once. A trailing CR is dropped (CRLF). Blank lines (empty,
 * or only ASCII spaces, tabs and CRs) keep their line numbers but reach no callback and allocate nothing; runs
 * of them are skipped byte by byte, so 300 MB of newlines cost one pass over the bytes. Lines beyond `maxLines`
 * (blank ones included) stop the splitter.
 */

const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const TAB = 0x09;

/** Where the splitter delivers lines; `bytes` is only valid during the call (it may view the caller's chunk). */
export interface LineSink {
  /** A non-blank line, 1-based, without its LF and trailing CR. */
  line(lineNumber: number, bytes: Uint8Array): void;
  /** A line longer than maxLineBytes (its bytes are not kept). */
  oversize(lineNumber: number): void;
  /** Line `lineNumber` (maxLines + 1) exists; the splitter has stopped. */
  tooManyLines(lineNumber: number): void;
}

export interface LineSplitterLimits {
  /** Longest line in bytes (counting a trailing CR, not the LF). */
  readonly maxLineBytes: number;
  /** Most lines, blank ones included. */
  readonly maxLines: number;
}

/** Whether `bytes` holds only ASCII blanks (space, tab, CR); true for an empty line. */
export function isBlankLine(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b !== SPACE && b !== TAB && b !== CR) return false;
  }
  return true;
}

/** Splits pushed chunks into lines for a {@link LineSink}; see the module contract. */
export class LineSplitter {
  private pieces: Uint8Array[] = [];
  private pieceBytes = 0;
  private overlong = false;
  private lineCount = 0;
  private halted = false;

  constructor(
    private readonly limits: LineSplitterLimits,
    private readonly sink: LineSink,
  ) {}

  /** Lines seen so far, blank ones included. */
  get lines(): number {
    return this.lineCount;
  }

  /** Whether maxLines stopped the splitter (later input is ignored). */
  get stopped(): boolean {
    return this.halted;
  }

  /** Splits `chunk`; a partial last line is kept (copied) for the next chunk. */
  push(chunk: Uint8Array): void {
    let start = 0;
    while (start < chunk.length && !this.halted) {
      if (this.atLineStart()) start = this.skipBlankRun(chunk, start);
      if (start >= chunk.length || this.halted) return;
      const newline = chunk.indexOf(LF, start);
      if (newline < 0) {
        this.keep(chunk.subarray(start));
        return;
      }
      this.finish(chunk.subarray(start, newline));
      start = newline + 1;
    }
  }

  /** Ends the input: a final line without LF counts as a line. */
  end(): void {
    if (!this.halted && (this.pieceBytes > 0 || this.overlong)) this.finish(new Uint8Array(0));
  }

  private atLineStart(): boolean {
    return this.pieceBytes === 0 && !this.overlong;
  }

  /** Skips the LF and CRLF lines from `start`; returns where the next non-blank-run byte is. */
  private skipBlankRun(chunk: Uint8Array, start: number): number {
    let i = start;
    let skipped = 0;
    for (;;) {
      if (chunk[i] === LF) i += 1;
      else if (chunk[i] === CR && chunk[i + 1] === LF) i += 2;
      else break;
      skipped++;
    }
    if (skipped > 0) this.count(skipped);
    return i;
  }

  /** Adds `n` lines; stops at the first beyond maxLines. Returns false when stopped. */
  private count(n: number): boolean {
    if (this.lineCount + n > this.limits.maxLines) {
      this.lineCount = this.limits.maxLines;
      this.halted = true;
      this.sink.tooManyLines(this.limits.maxLines + 1);
      return false;
    }
    this.lineCount += n;
    return true;
  }

  private keep(part: Uint8Array): void {
    if (part.length === 0 || this.overlong) return;
    if (this.pieceBytes + part.length > this.limits.maxLineBytes) {
      this.overlong = true;
      this.pieces = [];
      this.pieceBytes = 0;
      return;
    }
    // The caller may reuse its chunk: partial lines are copied.
    this.pieces.push(part.slice());
    this.pieceBytes += part.length;
  }

  /** Ends the current line with its last part `tail`. */
  private finish(tail: Uint8Array): void {
    if (!this.count(1)) return;
    const lineNumber = this.lineCount;
    const overlong = this.overlong || this.pieceBytes + tail.length > this.limits.maxLineBytes;
    let bytes = overlong ? null : this.take(tail);
    this.pieces = [];
    this.pieceBytes = 0;
    this.overlong = false;
    if (bytes === null) {
      this.sink.oversize(lineNumber);
      return;
    }
    if (bytes.length > 0 && bytes[bytes.length - 1] === CR) bytes = bytes.subarray(0, bytes.length - 1);
    if (!isBlankLine(bytes)) this.sink.line(lineNumber, bytes);
  }

  /** The kept pieces followed by `tail`, as one view (no copy when nothing was kept). */
  private take(tail: Uint8Array): Uint8Array {
    if (this.pieces.length === 0) return tail;
    const line = new Uint8Array(this.pieceBytes + tail.length);
    let offset = 0;
    for (const piece of [...this.pieces, tail]) {
      line.set(piece, offset);
      offset += piece.length;
    }
    return line;
  }
}
