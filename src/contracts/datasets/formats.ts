/**
 * @module contracts/datasets/formats — turns one parsed JSON line of each upload format into a preference pair,
 * or into the reason it is unusable. Checks run in a fixed order (fields → labels → prompt prefix → empty
 * response → identical pair), so each line reports exactly one problem.
 */
import { UnreachableCaseError } from "../errors.ts";
import type { DatasetFormat, DatasetIssueCode } from "./types.ts";

/** The last assistant-turn marker of an HH-RLHF dialogue; the prompt ends with it (inclusive). */
export const HH_ASSISTANT_MARKER = "\n\nAssistant:";

export interface InterpretedPair {
  readonly ok: true;
  readonly prompt: string;
  readonly response0: string;
  readonly response1: string;
  /** Preferred response index per label, in the format's label order. */
  readonly labels: readonly (0 | 1)[];
}
export interface LineProblem {
  readonly ok: false;
  readonly code: DatasetIssueCode;
  readonly reason: string;
}
export type LineInterpretation = InterpretedPair | LineProblem;

function problem(code: DatasetIssueCode, reason: string): LineProblem {
  return { ok: false, code, reason };
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return `a ${typeof value}`;
}

/** Reads required string fields in order; the first absent or non-string one is the problem. */
function stringFields<const N extends readonly string[]>(
  record: Record<string, unknown>,
  names: N,
): { [K in N[number]]: string } | LineProblem {
  const out: Record<string, string> = {};
  for (const name of names) {
    if (!(name in record) || record[name] === undefined) return problem("MISSING_FIELD", `missing field "${name}"`);
    const value = record[name];
    if (typeof value !== "string") {
      return problem("MISSING_FIELD", `field "${name}" must be a string, got ${describe(value)}`);
    }
    out[name] = value;
  }
  return out as { [K in N[number]]: string };
}

function isProblem(value: object): value is LineProblem {
  return "ok" in value && (value as { ok: unknown }).ok === false;
}

function label(record: Record<string, unknown>, name: string): 0 | 1 | LineProblem {
  if (!(name in record) || record[name] === undefined || record[name] === null) {
    return problem("MISSING_FIELD", `missing field "${name}"`);
  }
  const value = record[name];
  if (value === 0 || value === 1) return value;
  return problem("INVALID_LABEL", `field "${name}" must be 0 or 1, got ${JSON.stringify(value)}`);
}

function checkResponses(response0: string, response1: string, names: [string, string]): LineProblem | null {
  if (response0.trim() === "") return problem("EMPTY_RESPONSE", `${names[0]} has an empty response`);
  if (response1.trim() === "") return problem("EMPTY_RESPONSE", `${names[1]} has an empty response`);
  if (response0 === response1) return problem("IDENTICAL_PAIR", `${names[0]} and ${names[1]} are identical`);
  return null;
}

function interpretHh(record: Record<string, unknown>): LineInterpretation {
  const fields = stringFields(record, ["chosen", "rejected"] as const);
  if (isProblem(fields)) return fields;
  const { chosen, rejected } = fields;
  const cut = chosen.lastIndexOf(HH_ASSISTANT_MARKER);
  if (cut < 0) {
    return problem("MISSING_FIELD", `"chosen" has no "\\n\\nAssistant:" turn, so it holds no prompt`);
  }
  const prompt = chosen.slice(0, cut + HH_ASSISTANT_MARKER.length);
  const rejectedCut = rejected.lastIndexOf(HH_ASSISTANT_MARKER);
  const rejectedPrompt = rejectedCut < 0 ? null : rejected.slice(0, rejectedCut + HH_ASSISTANT_MARKER.length);
  if (rejectedPrompt !== prompt) {
    return problem(
      "PROMPT_PREFIX_MISMATCH",
      `prompt prefixes differ: "rejected" does not share the dialogue of "chosen" up to its last "\\n\\nAssistant:"` +
        ` (first difference at character ${firstDifference(prompt, rejectedPrompt ?? rejected)})`,
    );
  }
  const response0 = chosen.slice(prompt.length);
  const response1 = rejected.slice(prompt.length);
  return checkResponses(response0, response1, ["chosen", "rejected"]) ?? { ok: true, prompt, response0, response1, labels: [0] };
}

function firstDifference(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a.charCodeAt(i) !== b.charCodeAt(i)) return i;
  return n;
}

function interpretPku(record: Record<string, unknown>): LineInterpretation {
  const fields = stringFields(record, ["prompt", "response_0", "response_1"] as const);
  if (isProblem(fields)) return fields;
  if (fields.prompt.trim() === "") return problem("MISSING_FIELD", `field "prompt" is empty`);
  const better = label(record, "better_response_id");
  if (typeof better !== "number") return better;
  const safer = label(record, "safer_response_id");
  if (typeof safer !== "number") return safer;
  const bad = checkResponses(fields.response_0, fields.response_1, ["response_0", "response_1"]);
  if (bad) return bad;
  return { ok: true, prompt: fields.prompt, response0: fields.response_0, response1: fields.response_1, labels: [better, safer] };
}

function interpretGeneric(record: Record<string, unknown>): LineInterpretation {
  const fields = stringFields(record, ["prompt", "chosen", "rejected"] as const);
  if (isProblem(fields)) return fields;
  if (fields.prompt.trim() === "") return problem("MISSING_FIELD", `field "prompt" is empty`);
  const bad = checkResponses(fields.chosen, fields.rejected, ["chosen", "rejected"]);
  if (bad) return bad;
  return { ok: true, prompt: fields.prompt, response0: fields.chosen, response1: fields.rejected, labels: [0] };
}

/** Interprets one JSON value (already parsed from a line) in the given format. */
export function interpretRecord(format: DatasetFormat, value: unknown): LineInterpretation {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return problem("MALFORMED_JSON", `expected a JSON object, got ${describe(value)}`);
  }
  const record = value as Record<string, unknown>;
  switch (format) {
    case "HH_RLHF":
      return interpretHh(record);
    case "PKU_SAFERLHF":
      return interpretPku(record);
    case "GENERIC":
      return interpretGeneric(record);
    default:
      throw new UnreachableCaseError(format);
  }
}
