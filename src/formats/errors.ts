/** @module formats/errors
 * Base class of every error a model-file codec throws on bad bytes: a stable machine-readable `code` plus a
 * message that names what is wrong. Callers map it to their own error model (the engine wraps it in its
 * `GgufError` / `SafetensorsError`, the api in `ModelFileError`).
 */

export class FormatError<Code extends string = string> extends Error {
  readonly code: Code;
  constructor(code: Code, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}
