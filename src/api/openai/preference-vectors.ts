/** @module api/openai/preference-vectors
 *
 * The extension fields `preference` / `preferences` → the request's α batch, checked exactly like GraphQL's
 * `alphas` (contracts' `validatePreferenceVector`: one entry per adapter dimension in the adapter's α order, finite,
 * ≥ 0, Σ = 1 ± 1e-6; a failure is a 400 with code `invalid_preference_vector` naming the vector).
 * - A vector is an object of dimension name → weight (names from the adapter's `dimensionNames`; a dimension left
 *   out weighs 0; an unknown name is refused) or an array of weights in the adapter's α order.
 * - `preference`: one vector; `preferences`: several, decoded as one α batch in the given order; not both.
 * - With an adapter and neither field: the uniform vector (1/k each).
 * - Without an adapter (a base model alone) decoding is unguided: either field is refused, the batch is `[[]]`.
 */
import { validatePreferenceVector } from "../../contracts/index.ts";
import type { AdapterRow } from "../services/generations.ts";
import type { PreferenceInput } from "./completion-requests.ts";
import { invalidRequest } from "./openai-error.ts";

export interface PreferenceFields {
  preference?: PreferenceInput | null;
  preferences?: PreferenceInput[] | null;
}

function vectorOf(input: PreferenceInput, names: readonly string[], param: string): number[] {
  if (Array.isArray(input)) return input;
  const vector = names.map(() => 0);
  for (const [name, weight] of Object.entries(input)) {
    const index = names.indexOf(name);
    if (index < 0) throw invalidRequest(`${param}.${name}`, `${param}: unknown dimension "${name}"; the adapter's dimensions are ${names.join(", ")}`, "invalid_preference_vector");
    vector[index] = weight;
  }
  return vector;
}

function checkedVector(input: PreferenceInput, names: readonly string[], param: string): number[] {
  const vector = vectorOf(input, names, param);
  const problem = validatePreferenceVector(vector, names.length);
  if (problem) {
    const order = problem.code === "WRONG_LENGTH" ? ` (in order: ${names.join(", ")})` : "";
    throw invalidRequest(param, `${param}: ${problem.message}${order}`, "invalid_preference_vector");
  }
  return vector;
}

/** The α batch of a request (see the module contract); `modelId` names the model in messages. */
export function resolvePreferenceVectors(fields: PreferenceFields, adapter: AdapterRow | null, modelId: string): number[][] {
  const { preference, preferences } = fields;
  if (!adapter) {
    if (preference != null || preferences != null) {
      throw invalidRequest(preference != null ? "preference" : "preferences", `model ${modelId} is a base model: decoding is unguided and takes no preference; name an adapter as model`);
    }
    return [[]];
  }
  if (preference != null && preferences != null) throw invalidRequest("preferences", "give preference or preferences, not both");
  const names = adapter.dimensionIds.map((id, i) => adapter.dimensionNames[i] ?? id);
  if (preferences != null) return preferences.map((p, i) => checkedVector(p, names, `preferences[${i}]`));
  if (preference != null) return [checkedVector(preference, names, "preference")];
  return [names.map(() => 1 / names.length)];
}
