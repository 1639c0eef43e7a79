/** @module web/pages/Evaluations
 *  Pareto sweeps: a form (adapter, base model, evaluators in α order, dataset split, grid step, prompt count,
 *  reference point, β, token budgets) and the list of evaluations with their hypervolume and MIP. */
import { useEffect, useState, type FormEvent } from "react";
import { graphql } from "../gql/index.ts";
import type { DatasetSplit } from "../gql/graphql.ts";
import { inputDefaults } from "../generated/input-defaults.ts";
import { useMutation, useQuery } from "../lib/hooks.ts";
import { Link, navigate, useLocation } from "../lib/router.tsx";
import { NO_ERRORS, fieldError, payloadErrors, type FormErrors } from "../lib/form-errors.ts";
import { formatNumber, formatTime, shortId } from "../lib/format.ts";
import { FormError, SelectField, TextField, intError, numberOrUndefined } from "../components/forms.tsx";
import { Empty, PageTitle, Section, StatusBadge } from "../components/ui.tsx";

const EvaluationInputs = graphql(`
  query EvaluationInputs($pageSize: Int = 100) {
    adapters(first: $pageSize) {
      edges {
        node {
          id
          name
          method
          baseModelId
          dimensionIds
          dimensionNames
        }
      }
    }
    models(first: $pageSize) {
      edges {
        node {
          id
          name
          kind
          dimensionId
        }
      }
    }
    datasets(first: $pageSize, status: READY) {
      edges {
        node {
          id
          name
          splitCounts {
            train
            validation
            test
          }
        }
      }
    }
  }
`);

const EvaluationsQuery = graphql(`
  query Evaluations($listSize: Int = 50) {
    evaluations(first: $listSize) {
      edges {
        node {
          id
          status
          adapterId
          gridStep
          split
          promptCount
          hypervolume
          mip
          createdAt
          points {
            index
          }
        }
      }
    }
  }
`);

const StartEvaluation = graphql(`
  mutation StartEvaluation($input: StartEvaluationInput!) {
    startEvaluation(input: $input) {
      __typename
      ... on StartEvaluationSuccess {
        evaluation {
          id
        }
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
        retryAfter
        message
      }
      ... on VocabularyMismatch {
        baseVocabSize
        otherVocabSize
        message
      }
      ... on LimitExceeded {
        limitName
        max
        requested
        field
        message
      }
    }
  }
`);

const SPLITS: { value: DatasetSplit; label: string }[] = (["TEST", "VALIDATION", "TRAIN"] as const).map((s) => ({ value: s, label: s }));

export default function Evaluations() {
  const { data } = useQuery(EvaluationsQuery, {}, { pollMs: 5000 });
  const inputs = useQuery(EvaluationInputs, {});
  const adapters = inputs.data?.adapters.edges.map((e) => e.node) ?? [];
  const evaluations = data?.evaluations.edges.map((e) => e.node) ?? [];
  return (
    <>
      <PageTitle title="Evaluations">
        A sweep over a grid of α on the simplex: for each α the adapter steers the base model on the chosen prompts, and one
        evaluator per dimension scores the answers. The result is a Pareto front with its hypervolume (HV) and mean inner
        product (MIP).
      </PageTitle>
      <EvaluationForm />
      <Section title="Evaluations">
        {!data ? (
          <p aria-busy="true">Loading…</p>
        ) : evaluations.length === 0 ? (
          <Empty>No evaluations yet.</Empty>
        ) : (
          <table data-testid="evaluations-table">
            <thead>
              <tr>
                <th>Evaluation</th>
                <th>Adapter</th>
                <th>Status</th>
                <th className="num">Grid step</th>
                <th>Prompts</th>
                <th className="num">Points</th>
                <th className="num">HV</th>
                <th className="num">MIP</th>
                <th>Created</th>
              </tr>
            </thead>
            <tbody>
              {evaluations.map((ev) => (
                <tr key={ev.id}>
                  <td>
                    <Link to={`/evaluations/${encodeURIComponent(ev.id)}`}>{shortId(ev.id)}</Link>
                  </td>
                  <td>{adapters.find((a) => a.id === ev.adapterId)?.name ?? shortId(ev.adapterId)}</td>
                  <td>
                    <StatusBadge status={ev.status} />
                  </td>
                  <td className="num">{ev.gridStep}</td>
                  <td>
                    {ev.promptCount} from {ev.split}
                  </td>
                  <td className="num">{ev.points.length}</td>
                  <td className="num">{formatNumber(ev.hypervolume)}</td>
                  <td className="num">{formatNumber(ev.mip)}</td>
                  <td>{formatTime(ev.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
    </>
  );
}

function EvaluationForm() {
  const { search } = useLocation();
  const d = inputDefaults.StartEvaluationInput;
  const { data } = useQuery(EvaluationInputs, {});
  const adapters = data?.adapters.edges.map((e) => e.node) ?? [];
  const models = data?.models.edges.map((e) => e.node) ?? [];
  const datasets = data?.datasets.edges.map((e) => e.node) ?? [];
  const [adapterId, setAdapterId] = useState(search.get("adapter") ?? "");
  const adapter = adapters.find((a) => a.id === adapterId) ?? null;
  const [baseModelId, setBaseModelId] = useState("");
  const [datasetId, setDatasetId] = useState("");
  const [evaluatorIds, setEvaluatorIds] = useState<string[]>([]);
  const [form, setForm] = useState<Record<string, string>>({
    split: d.split,
    promptCount: String(d.promptCount),
    gridStep: String(d.gridStep),
    beta: String(d.beta),
    maxTokens: String(d.maxTokens),
    maxPromptTokens: "",
    referencePoint: "",
  });
  const [errors, setErrors] = useState<FormErrors>(NO_ERRORS);
  const [start, { running }] = useMutation(StartEvaluation);
  const set = (key: string) => (value: string) => setForm((f) => ({ ...f, [key]: value }));
  const f = (key: string) => fieldError(errors, `input.${key}`);

  useEffect(() => {
    if (!adapter) return;
    if (!baseModelId) setBaseModelId(adapter.baseModelId);
    // One evaluator per adapter dimension, in α order: preselect the first that scores each.
    setEvaluatorIds(adapter.dimensionIds.map((dim) => models.find((m) => m.kind === "EVALUATOR" && m.dimensionId === dim)?.id ?? ""));
  }, [adapter?.id, models.length]); // eslint-disable-line react-hooks/exhaustive-deps

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const local: Record<string, string> = {};
    for (const k of ["promptCount", "maxTokens", "maxPromptTokens"]) {
      const err = intError(form[k] ?? "");
      if (err) local[`input.${k}`] = err;
    }
    const refText = (form.referencePoint ?? "").trim();
    const referencePoint = refText ? refText.split(/[\s,]+/).map(Number) : undefined;
    if (referencePoint?.some((v) => !Number.isFinite(v))) local["input.referencePoint"] = "numbers separated by commas";
    if (Object.keys(local).length) return setErrors({ fields: local, form: null });
    const num = (k: string) => numberOrUndefined(form[k] ?? "");
    const result = await start({
      input: {
        adapterId,
        baseModelId,
        datasetId,
        split: form.split as DatasetSplit,
        promptCount: num("promptCount"),
        gridStep: num("gridStep"),
        evaluatorIds,
        referencePoint,
        beta: num("beta"),
        maxTokens: num("maxTokens"),
        maxPromptTokens: num("maxPromptTokens"),
      },
    });
    if (!result) return;
    const p = result.startEvaluation;
    if (p.__typename === "StartEvaluationSuccess") navigate(`/evaluations/${encodeURIComponent(p.evaluation.id)}`);
    else setErrors(payloadErrors(p));
  };

  const bases = models.filter((m) => m.kind === "BASE" || m.kind === "ARM_BASE").map((m) => ({ value: m.id, label: m.name }));
  return (
    <Section title="New evaluation">
      <form onSubmit={(e) => void submit(e)} aria-label="New evaluation" noValidate>
        <div className="form-grid">
          <SelectField label="Adapter" value={adapterId} onChange={setAdapterId} options={adapters.map((a) => ({ value: a.id, label: `${a.name} (${a.method})` }))} error={f("adapterId")} />
          <SelectField label="Base model" value={baseModelId} onChange={setBaseModelId} options={bases} error={f("baseModelId")} />
          <SelectField label="Prompt dataset" value={datasetId} onChange={setDatasetId} options={datasets.map((x) => ({ value: x.id, label: x.name }))} error={f("datasetId")} />
          <SelectField label="Prompt split" value={(form.split ?? "TEST") as DatasetSplit} onChange={set("split")} options={SPLITS} error={f("split")} />
          <TextField label="Prompt count" type="number" value={form.promptCount ?? ""} onChange={set("promptCount")} error={f("promptCount")} />
          <TextField label="Grid step" type="number" value={form.gridStep ?? ""} onChange={set("gridStep")} error={f("gridStep")} hint="1/step must be an integer (0.5 → 3 points for k = 2)" />
          <TextField label="β" type="number" value={form.beta ?? ""} onChange={set("beta")} error={f("beta")} />
          <TextField label="Max tokens per answer" type="number" value={form.maxTokens ?? ""} onChange={set("maxTokens")} error={f("maxTokens")} />
          <TextField label="Max prompt tokens" type="number" value={form.maxPromptTokens ?? ""} onChange={set("maxPromptTokens")} error={f("maxPromptTokens")} hint="default: context − max tokens" />
          <TextField label="Reference point" value={form.referencePoint ?? ""} onChange={set("referencePoint")} error={f("referencePoint")} hint="one number per dimension, e.g. -5, -5; empty: derived from the data" />
        </div>
        {adapter ? (
          <fieldset style={{ marginTop: "0.75rem" }}>
            <legend>Evaluators, in α order</legend>
            <div className="form-grid">
              {adapter.dimensionIds.map((dim, i) => (
                <SelectField
                  key={dim}
                  label={`Evaluator for ${adapter.dimensionNames[i]}`}
                  value={evaluatorIds[i] ?? ""}
                  onChange={(v) => setEvaluatorIds((list) => list.map((x, j) => (j === i ? v : x)))}
                  options={models.filter((m) => m.kind === "EVALUATOR" && m.dimensionId === dim).map((m) => ({ value: m.id, label: m.name }))}
                  error={f(`evaluatorIds[${i}]`)}
                  hint={models.some((m) => m.kind === "EVALUATOR" && m.dimensionId === dim) ? undefined : "no evaluator scores this dimension yet: train one on the Training page"}
                />
              ))}
            </div>
            {f("evaluatorIds") ? <p className="field-error">{f("evaluatorIds")}</p> : null}
          </fieldset>
        ) : null}
        <FormError message={errors.form} />
        <div className="form-actions">
          <button type="submit" className="primary" disabled={running || !adapter}>
            Start evaluation
          </button>
        </div>
      </form>
    </Section>
  );
}
