/** @module web/pages/Models
 *  Models: register one by a path under the server's model roots, or upload the file (streamed to
 *  `POST /v1/models` with a progress bar). The table shows what the header told: format, architecture, context
 *  length, vocabulary size and digests, and whether each base / ARM base shares a vocabulary with another. */
import { useState, type FormEvent } from "react";
import { graphql } from "../gql/index.ts";
import type { ModelFieldsFragment, ModelKind, PromptTemplate } from "../gql/graphql.ts";
import { useMutation, useQuery } from "../lib/hooks.ts";
import { reportError } from "../lib/graphql.ts";
import { upload, type UploadProgress } from "../lib/upload.ts";
import { NO_ERRORS, fieldError, payloadErrors, type FormErrors } from "../lib/form-errors.ts";
import { dimensionName, useDimensions } from "../lib/dimensions.ts";
import { formatBytes, formatTime } from "../lib/format.ts";
import { FormError, SelectField, TextField } from "../components/forms.tsx";
import { DropZone, Empty, PageTitle, ProgressBar, Section } from "../components/ui.tsx";
import { DownloadButton } from "../components/DownloadButton.tsx";

const TEMPLATES: { value: PromptTemplate | "DEFAULT"; label: string }[] = [
  { value: "DEFAULT", label: "default (the file's own chat template, else HH)" },
  { value: "HH", label: "HH — \\n\\nHuman: … \\n\\nAssistant:" },
  { value: "PKU", label: "PKU — BEGINNING OF CONVERSATION: USER: … ASSISTANT:" },
  { value: "PLAIN", label: "PLAIN — the text as it is" },
];

/** Which prompt format a model uses: its own chat template, the one named at registration, else HH. */
function promptFormat(m: ModelFieldsFragment): string {
  if (m.kind === "EVALUATOR") return "—";
  const config = (m.config ?? {}) as Record<string, unknown>;
  if (typeof config.chatTemplate === "string") return "own chat template";
  return m.promptTemplate ?? "HH (default)";
}

const ModelsQuery = graphql(`
  query Models($pageSize: Int = 100) {
    models(first: $pageSize) {
      edges {
        node {
          ...ModelFields
        }
      }
    }
  }
`);

const RegisterModel = graphql(`
  mutation RegisterModel($input: RegisterModelInput!) {
    registerModel(input: $input) {
      __typename
      ... on RegisterModelSuccess {
        model {
          id
        }
      }
      ... on ModelFileInvalid {
        location
        problem
        message
      }
      ... on ValidationError {
        field
        message
      }
      ... on NotFoundError {
        id
        message
      }
      ... on QuotaExceeded {
        quota
        limit
        message
      }
    }
  }
`);

const KINDS: { value: ModelKind; label: string }[] = [
  { value: "BASE", label: "BASE — the model being steered" },
  { value: "ARM_BASE", label: "ARM_BASE — backbone ARM adapters train on" },
  { value: "EVALUATOR", label: "EVALUATOR — reward model for one dimension" },
];

type Source = "location" | "upload";

/** `POST /v1/models` answers (docs/api.md). */
interface UploadAccepted {
  model: { id: string; name: string };
}
interface UploadRefused {
  type: string;
  message: string;
  field?: string;
  problem?: string;
}

export function modelFacts(m: ModelFieldsFragment): { architecture: string | null; context: number | null } {
  const config = (m.config ?? {}) as Record<string, unknown>;
  const architecture = typeof config["general.architecture"] === "string" ? (config["general.architecture"] as string) : null;
  const ctxKey = Object.keys(config).find((k) => k.endsWith(".context_length"));
  const context = ctxKey && typeof config[ctxKey] === "number" ? (config[ctxKey] as number) : null;
  return { architecture, context };
}

/** Models (BASE / ARM_BASE) whose vocabulary equals `m`'s: same size and, when both are known, same digest. */
function sharesVocabulary(m: ModelFieldsFragment, others: readonly ModelFieldsFragment[]): ModelFieldsFragment[] {
  return others.filter(
    (o) =>
      o.id !== m.id &&
      o.kind !== "EVALUATOR" &&
      o.vocabSize !== null &&
      o.vocabSize === m.vocabSize &&
      (o.tokenizerHash === null || m.tokenizerHash === null || o.tokenizerHash === m.tokenizerHash),
  );
}

export default function Models() {
  const { data, refetch } = useQuery(ModelsQuery, {});
  const { dimensions } = useDimensions();
  const models = data?.models.edges.map((e) => e.node) ?? [];
  return (
    <>
      <PageTitle title="Models">
        GGUF base models to steer and ARM backbones, and evaluators (reward models) that score one dimension each.
      </PageTitle>
      <RegisterForm onRegistered={() => void refetch()} />
      <Section title="Registered models">
        {!data ? (
          <p aria-busy="true">Loading…</p>
        ) : models.length === 0 ? (
          <Empty>No models yet.</Empty>
        ) : (
          <table data-testid="models-table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Kind</th>
                <th>Format</th>
                <th>Architecture</th>
                <th className="num">Context</th>
                <th className="num">Vocabulary</th>
                <th>Digest</th>
                <th className="num">Size</th>
                <th>Vocabulary shared</th>
                <th>Prompt format</th>
                <th>Registered</th>
                <th>File</th>
              </tr>
            </thead>
            <tbody>
              {models.map((m) => {
                const { architecture, context } = modelFacts(m);
                const shared = m.kind === "EVALUATOR" ? null : sharesVocabulary(m, models);
                return (
                  <tr key={m.id}>
                    <td title={m.location}>{m.name}</td>
                    <td>
                      {m.kind}
                      {m.dimensionId ? <span className="muted"> ({dimensionName(dimensions, m.dimensionId)})</span> : null}
                    </td>
                    <td>{m.format}</td>
                    <td>{architecture ?? "—"}</td>
                    <td className="num">{context ?? "—"}</td>
                    <td className="num">{m.vocabSize ?? "—"}</td>
                    <td className="mono" title={`sha256 ${m.sha256 ?? "?"}\ntokenizer ${m.tokenizerHash ?? "?"}`}>
                      {m.sha256?.slice(0, 12) ?? "—"}
                      {m.tokenizerHash ? <span className="muted"> tok {m.tokenizerHash.slice(0, 8)}</span> : null}
                    </td>
                    <td className="num">{formatBytes(m.sizeBytes)}</td>
                    <td>
                      {shared === null ? (
                        "—"
                      ) : shared.length > 0 ? (
                        <span className="badge tone-good" title={shared.map((s) => s.name).join(", ")}>
                          shares vocabulary with {shared.map((s) => s.name).join(", ")}
                        </span>
                      ) : (
                        <span className="badge tone-warn">no other base shares its vocabulary</span>
                      )}
                    </td>
                    <td>{promptFormat(m)}</td>
                    <td>{formatTime(m.createdAt)}</td>
                    <td>
                      {m.downloadUrl ? (
                        <DownloadButton path={m.downloadUrl} fileName={m.name} label="Download" />
                      ) : (
                        <span className="muted" title={m.location}>
                          on the model roots
                        </span>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      </Section>
    </>
  );
}

function RegisterForm({ onRegistered }: { onRegistered(): void }) {
  const { dimensions } = useDimensions();
  const [name, setName] = useState("");
  const [kind, setKind] = useState<ModelKind>("BASE");
  const [dimensionId, setDimensionId] = useState("");
  const [template, setTemplate] = useState<PromptTemplate | "DEFAULT">("DEFAULT");
  const [source, setSource] = useState<Source>("location");
  const [location, setLocation] = useState("");
  const [file, setFile] = useState<File | null>(null);
  const [progress, setProgress] = useState<UploadProgress | null>(null);
  const [errors, setErrors] = useState<FormErrors>(NO_ERRORS);
  const [done, setDone] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [register] = useMutation(RegisterModel);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setDone(null);
    setBusy(true);
    try {
      if (source === "location") {
        const result = await register({
          input: {
            name: name.trim(),
            kind,
            location: location.trim(),
            dimensionId: kind === "EVALUATOR" ? dimensionId || undefined : undefined,
            promptTemplate: kind !== "EVALUATOR" && template !== "DEFAULT" ? template : undefined,
          },
        });
        if (!result) return;
        const p = result.registerModel;
        if (p.__typename === "RegisterModelSuccess") {
          setErrors(NO_ERRORS);
          setDone(`Registered ${name}.`);
          onRegistered();
        } else if (p.__typename === "ModelFileInvalid") setErrors({ fields: { "input.location": `${p.problem}: ${p.message}` }, form: null });
        else setErrors(payloadErrors(p));
        return;
      }
      if (!file) return setErrors({ fields: { upload: "choose a file" }, form: null });
      const query = new URLSearchParams({ name: name.trim(), kind, fileName: file.name });
      if (kind === "EVALUATOR" && dimensionId) query.set("dimensionId", dimensionId);
      if (kind !== "EVALUATOR" && template !== "DEFAULT") query.set("promptTemplate", template.toLowerCase());
      const outcome = await upload<UploadAccepted, UploadRefused>(`/v1/models?${query.toString()}`, file, setProgress).done;
      if (outcome.ok) {
        setErrors(NO_ERRORS);
        setDone(`Uploaded ${outcome.body.model.name}.`);
        onRegistered();
      } else {
        const err = outcome.error;
        const field = err.field ? (err.field === "body" ? "upload" : `input.${err.field}`) : err.type === "ModelFileInvalid" ? "upload" : null;
        const message = err.problem ? `${err.problem}: ${err.message}` : err.message;
        setErrors(field ? { fields: { [field]: message }, form: null } : { fields: {}, form: `${err.type}: ${message}` });
      }
    } catch (error) {
      reportError(error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Section title="Register a model">
      <form onSubmit={(e) => void submit(e)} aria-label="Register a model">
        <div className="form-grid">
          <TextField label="Model name" value={name} onChange={setName} error={fieldError(errors, "input.name")} required />
          <SelectField label="Kind" value={kind} onChange={setKind} options={KINDS} error={fieldError(errors, "input.kind")} />
          {kind !== "EVALUATOR" ? (
            <SelectField label="Prompt format" value={template} onChange={setTemplate} options={TEMPLATES} error={fieldError(errors, "input.promptTemplate")} hint="for chat and for training on bare prompts" />
          ) : null}
          {kind === "EVALUATOR" ? (
            <SelectField
              label="Scores dimension"
              value={dimensionId}
              onChange={setDimensionId}
              options={(dimensions ?? []).map((d) => ({ value: d.id, label: d.name }))}
              error={fieldError(errors, "input.dimensionId")}
            />
          ) : null}
        </div>
        <fieldset style={{ marginTop: "0.75rem" }}>
          <legend>Source</legend>
          <label>
            <input type="radio" name="model-source" checked={source === "location"} onChange={() => setSource("location")} /> A file under the server's model roots
          </label>{" "}
          <label>
            <input type="radio" name="model-source" checked={source === "upload"} onChange={() => setSource("upload")} /> Upload a file
          </label>
          {source === "location" ? (
            <TextField
              label="Path or file:// URL"
              value={location}
              onChange={setLocation}
              error={fieldError(errors, "input.location")}
              placeholder="/models/tinyllamas-stories-260k-f32.gguf"
              hint="Must lie under PARM_MODEL_ROOTS on the api host."
            />
          ) : (
            <div style={{ marginTop: "0.5rem" }}>
              <DropZone label="Model file" accept=".gguf,.safetensors,.onnx" onFile={setFile} disabled={busy} />
              {file ? <p>Selected: {file.name} ({formatBytes(file.size)})</p> : null}
              {fieldError(errors, "upload") ? (
                <p className="field-error" role="alert">
                  {fieldError(errors, "upload")}
                </p>
              ) : null}
              {progress ? <ProgressBar value={progress.total ? (100 * progress.loaded) / progress.total : null} label="Model upload progress" /> : null}
            </div>
          )}
        </fieldset>
        <FormError message={errors.form} />
        <div className="form-actions">
          <button type="submit" className="primary" disabled={busy}>
            {source === "upload" ? "Upload and register" : "Register"}
          </button>
          {done ? <span role="status">{done}</span> : null}
        </div>
      </form>
    </Section>
  );
}
