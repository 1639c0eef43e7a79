/** @module web/lib/form-errors
 *  Errors returned as data, placed where they belong: a `ValidationError` or `LimitExceeded` next to the input its
 *  `field` names (`input.learningRate`, `input.dimensions[0].datasetId`), an `InvalidPreferenceVector` next to the
 *  α its message names (`input.alphas[1]: …`); anything else (NotFoundError, QuotaExceeded, VocabularyMismatch …) as
 *  the form's own message. */

export interface FormErrors {
  /** Message per input path. */
  fields: Record<string, string>;
  /** A message that belongs to no single field. */
  form: string | null;
}

export const NO_ERRORS: FormErrors = { fields: {}, form: null };

interface PayloadLike {
  __typename?: string;
  message?: string;
  field?: string;
  quota?: string;
  limit?: number;
  retryAfter?: number | null;
  id?: string;
  code?: string;
  index?: number | null;
  usedBy?: readonly string[];
}

/** The errors of a payload union member that is not the success type. */
export function payloadErrors(payload: PayloadLike): FormErrors {
  const message = payload.message ?? payload.__typename ?? "failed";
  switch (payload.__typename) {
    case "ValidationError":
    case "LimitExceeded":
      return payload.field ? { fields: { [payload.field]: message }, form: null } : { fields: {}, form: message };
    case "InvalidPreferenceVector": {
      const named = /^(input\.alphas\[\d+\])/.exec(message);
      return named?.[1] ? { fields: { [named[1]]: message }, form: null } : { fields: {}, form: message };
    }
    case "QuotaExceeded":
      return { fields: {}, form: `${message}${payload.retryAfter ? ` (retry in ${payload.retryAfter} s)` : ""}` };
    case "ResourceInUse":
      return { fields: {}, form: `${message}${payload.usedBy?.length ? ` — used by ${payload.usedBy.length} object(s)` : ""}` };
    default:
      return { fields: {}, form: message };
  }
}

/** The error for `path`, also matching a field reported without the `input.` prefix. */
export function fieldError(errors: FormErrors, path: string): string | undefined {
  return errors.fields[path] ?? errors.fields[path.replace(/^input\./, "")];
}
