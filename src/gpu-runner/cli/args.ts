/** @module gpu-runner/cli/args
 * Command-line parsing for `parm`: `--name value` and `--name=value` options (repeatable ones collect every value),
 * boolean `--flag`s, and typed accessors that throw CliUsageError naming the option and what was wrong.
 */

export class CliUsageError extends Error {
  readonly code = "CLI_USAGE";
  override readonly name = "CliUsageError";
}

export interface OptionSpec {
  /** Takes no value. */
  readonly flag?: boolean;
  /** May repeat; every value is kept. */
  readonly repeat?: boolean;
}

export class ParsedArgs {
  constructor(
    readonly command: string,
    private readonly values: ReadonlyMap<string, readonly string[]>,
    private readonly flags: ReadonlySet<string>,
  ) {}

  has(name: string): boolean {
    return this.values.has(name) || this.flags.has(name);
  }

  flag(name: string): boolean {
    return this.flags.has(name);
  }

  all(name: string): readonly string[] {
    return this.values.get(name) ?? [];
  }

  string(name: string): string | undefined;
  string(name: string, fallback: string): string;
  string(name: string, fallback?: string): string | undefined {
    const v = this.values.get(name);
    return v ? v[v.length - 1] : fallback;
  }

  required(name: string): string {
    const v = this.string(name);
    if (v === undefined || v === "") throw new CliUsageError(`--${name} is required`);
    return v;
  }

  number(name: string): number | undefined;
  number(name: string, fallback: number): number;
  number(name: string, fallback?: number): number | undefined {
    const v = this.string(name);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (v.trim() === "" || !Number.isFinite(n)) throw new CliUsageError(`--${name} must be a number, got "${v}"`);
    return n;
  }

  integer(name: string): number | undefined;
  integer(name: string, fallback: number): number;
  integer(name: string, fallback?: number): number | undefined {
    const n = this.number(name);
    if (n === undefined) return fallback;
    if (!Number.isInteger(n)) throw new CliUsageError(`--${name} must be an integer, got ${n}`);
    return n;
  }

  /** Comma-separated numbers, e.g. `--alpha 0.3,0.7`. */
  numbers(name: string): number[] | undefined {
    const v = this.string(name);
    if (v === undefined) return undefined;
    return v.split(",").map((part) => {
      const n = Number(part);
      if (part.trim() === "" || !Number.isFinite(n)) throw new CliUsageError(`--${name} must be comma-separated numbers, got "${v}"`);
      return n;
    });
  }
}

/** Parses `argv` (without node and script) against the command's option specs. */
export function parseArgs(argv: readonly string[], specs: Readonly<Record<string, OptionSpec>>): ParsedArgs {
  const [command, ...rest] = argv;
  if (command === undefined || command.startsWith("-")) throw new CliUsageError("a command comes first (train, dump, help)");
  const values = new Map<string, string[]>();
  const flags = new Set<string>();
  for (let i = 0; i < rest.length; i++) {
    const token = rest[i];
    if (!token.startsWith("--")) throw new CliUsageError(`unexpected argument "${token}" (options start with --)`);
    const eq = token.indexOf("=");
    const name = eq > 0 ? token.slice(2, eq) : token.slice(2);
    const spec = specs[name];
    if (!spec) throw new CliUsageError(`unknown option --${name} for "${command}"`);
    if (spec.flag) {
      if (eq > 0) throw new CliUsageError(`--${name} takes no value`);
      flags.add(name);
      continue;
    }
    let value: string;
    if (eq > 0) value = token.slice(eq + 1);
    else {
      if (i + 1 >= rest.length) throw new CliUsageError(`--${name} needs a value`);
      value = rest[++i];
    }
    const list = values.get(name) ?? [];
    if (!spec.repeat && list.length > 0) throw new CliUsageError(`--${name} is given twice`);
    list.push(value);
    values.set(name, list);
  }
  return new ParsedArgs(command, values, flags);
}
