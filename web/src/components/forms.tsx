/** @module web/components/forms
 *  Labelled form controls. Each control has a visible `<label>`; an error returned as data is shown under it,
 *  linked with `aria-describedby` and flagged `aria-invalid`, so screen readers and the tests find it by label. */
import { useId, type ReactNode } from "react";

interface BaseProps {
  label: string;
  error?: string | undefined;
  hint?: ReactNode;
  className?: string;
}

function Described({ id, error, hint }: { id: string; error?: string | undefined; hint?: ReactNode }) {
  return (
    <>
      {hint ? (
        <span className="hint" id={`${id}-hint`}>
          {hint}
        </span>
      ) : null}
      {error ? (
        <span className="field-error" id={`${id}-error`} role="alert">
          {error}
        </span>
      ) : null}
    </>
  );
}

function describedBy(id: string, error?: string, hint?: ReactNode): string | undefined {
  const ids = [hint ? `${id}-hint` : null, error ? `${id}-error` : null].filter(Boolean);
  return ids.length ? ids.join(" ") : undefined;
}

export function TextField({
  label,
  value,
  onChange,
  error,
  hint,
  className,
  type = "text",
  required,
  placeholder,
  autoComplete,
  multiline,
  rows,
}: BaseProps & {
  value: string;
  onChange(value: string): void;
  type?: "text" | "password" | "number" | "url";
  required?: boolean;
  placeholder?: string;
  autoComplete?: string;
  multiline?: boolean;
  rows?: number;
}) {
  const id = useId();
  const common = {
    id,
    value,
    required,
    placeholder,
    "aria-invalid": error ? true : undefined,
    "aria-describedby": describedBy(id, error, hint),
  } as const;
  return (
    <div className={`field ${className ?? ""}`}>
      <label htmlFor={id}>{label}</label>
      {multiline ? (
        <textarea {...common} rows={rows ?? 4} onChange={(e) => onChange(e.target.value)} />
      ) : (
        <input
          {...common}
          type={type}
          step={type === "number" ? "any" : undefined}
          autoComplete={autoComplete ?? "off"}
          spellCheck={false}
          onChange={(e) => onChange(e.target.value)}
        />
      )}
      <Described id={id} error={error} hint={hint} />
    </div>
  );
}

export function SelectField<T extends string>({
  label,
  value,
  onChange,
  options,
  error,
  hint,
  className,
  required,
}: BaseProps & {
  value: NoInfer<T> | "";
  onChange(value: NoInfer<T>): void;
  options: readonly { value: T; label: string }[];
  required?: boolean;
}) {
  const id = useId();
  return (
    <div className={`field ${className ?? ""}`}>
      <label htmlFor={id}>{label}</label>
      <select
        id={id}
        value={value}
        required={required}
        aria-invalid={error ? true : undefined}
        aria-describedby={describedBy(id, error, hint)}
        onChange={(e) => onChange(e.target.value as T)}
      >
        {value === "" ? <option value="">— choose —</option> : null}
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
      <Described id={id} error={error} hint={hint} />
    </div>
  );
}

export function CheckboxField({ label, checked, onChange, error, hint }: BaseProps & { checked: boolean; onChange(checked: boolean): void }) {
  const id = useId();
  return (
    <div className="field checkbox">
      <input id={id} type="checkbox" checked={checked} aria-describedby={describedBy(id, error, hint)} onChange={(e) => onChange(e.target.checked)} />
      <label htmlFor={id}>{label}</label>
      <Described id={id} error={error} hint={hint} />
    </div>
  );
}

/** A form's own error (not tied to a field), announced politely. */
export function FormError({ message }: { message: string | null | undefined }) {
  if (!message) return null;
  return (
    <p className="form-error" role="alert">
      {message}
    </p>
  );
}

/** Number from a form string; `undefined` for an empty string (the API default applies), NaN kept (the API names it). */
export function numberOrUndefined(text: string): number | undefined {
  const t = text.trim();
  if (t === "") return undefined;
  return Number(t);
}

/** The local check for an Int field: a message when `text` is set but not an integer. */
export function intError(text: string): string | undefined {
  const t = text.trim();
  if (t === "") return undefined;
  return Number.isInteger(Number(t)) ? undefined : "must be an integer";
}
