/** @module web/pages/Training
 *  Training: a form for ARM training (PARM or GenARM, every option, prefilled with the API's own defaults) and
 *  for evaluator training; each ValidationError / LimitExceeded shows next to its field. Below, the job list
 *  filtered by kind and status; a job opens its live page. */
import { useMemo, useState, type FormEvent } from "react";
import { graphql } from "../gql/index.ts";
import type { AdapterMethod, DatasetSplit, EvaluatorPooling, JobKind, JobStatus } from "../gql/graphql.ts";
import { inputDefaults } from "../generated/input-defaults.ts";
import { useMutation, useQuery } from "../lib/hooks.ts";
import { Link, navigate, useLocation } from "../lib/router.tsx";
import { NO_ERRORS, fieldError, payloadErrors, type FormErrors } from "../lib/form-errors.ts";
import { useDimensions } from "../lib/dimensions.ts";
import { formatTime, shortId } from "../lib/format.ts";
import { CheckboxField, FormError, SelectField, TextField, intError, numberOrUndefined } from "../components/forms.tsx";
import { Empty, PageTitle, ProgressBar, Section, StatusBadge } from "../components/ui.tsx";

const TrainingInputsQuery = graphql(`
  query TrainingInputs($pageSize: Int = 100) {
    models(first: $pageSize) {
      edges {
        node {
          id
          name
          kind
        }
      }
    }
    datasets(first: $pageSize, status: READY) {
      edges {
        node {
          id
          name
          dimensionMap {
            label
            dimensionId
          }
        }
      }
    }
  }
`);

const JobsQuery = graphql(`
  query Jobs($kind: JobKind, $status: JobStatus, $listSize: Int = 50) {
    jobs(first: $listSize, kind: $kind, status: $status) {
      edges {
        node {
          id
          kind
          status
          progress
          payload
          error
          createdAt
          finishedAt
        }
      }
    }
  }
`);

const StartTraining = graphql(`
  mutation StartTraining($input: StartTrainingInput!) {
    startTraining(input: $input) {
      __typename
      ... on StartTrainingSuccess {
        job {
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

const TrainEvaluator = graphql(`
  mutation TrainEvaluator($input: TrainEvaluatorInput!) {
    trainEvaluator(input: $input) {
      __typename
      ... on TrainEvaluatorSuccess {
        job {
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

const TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"] as const;
const KINDS: { value: JobKind | "ALL"; label: string }[] = [
  { value: "ALL", label: "All kinds" },
  { value: "TRAIN", label: "ARM training" },
  { value: "TRAIN_EVALUATOR", label: "Evaluator training" },
  { value: "GENERATE", label: "Generation" },
  { value: "EVALUATE", label: "Evaluation" },
];
const STATUSES: { value: JobStatus | "ALL"; label: string }[] = [
  { value: "ALL", label: "Any status" },
  ...(["QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"] as const).map((s) => ({ value: s, label: s })),
];
const SPLITS: { value: DatasetSplit; label: string }[] = (["TRAIN", "VALIDATION", "TEST"] as const).map((s) => ({ value: s, label: s }));

export default function Training() {
  const { search } = useLocation();
  const [mode, setMode] = useState<"arm" | "evaluator">(search.get("form") === "evaluator" ? "evaluator" : "arm");
  return (
    <>
      <PageTitle title="Training">
        Train a preference-aware ARM (PARM: one PBLoRA adapter over all dimensions; GenARM: one LoRA per dimension), or an
        evaluator (reward model) for one dimension. Jobs run on the runner fleet; each opens a live page.
      </PageTitle>
      <div className="row" role="tablist" aria-label="What to train" style={{ marginBottom: "0.75rem" }}>
        <button type="button" role="tab" aria-selected={mode === "arm"} className={mode === "arm" ? "primary" : ""} onClick={() => setMode("arm")}>
          ARM adapter
        </button>
        <button type="button" role="tab" aria-selected={mode === "evaluator"} className={mode === "evaluator" ? "primary" : ""} onClick={() => setMode("evaluator")}>
          Evaluator
        </button>
      </div>
      {mode === "arm" ? <ArmForm /> : <EvaluatorForm />}
      <JobList />
    </>
  );
}

type Form = Record<string, string>;

function useInputs() {
  const { data } = useQuery(TrainingInputsQuery, {});
  const { dimensions } = useDimensions();
  const models = data?.models.edges.map((e) => e.node) ?? [];
  const datasets = data?.datasets.edges.map((e) => e.node) ?? [];
  return { models, datasets, dimensions: dimensions ?? [] };
}

function ArmForm() {
  const d = inputDefaults.StartTrainingInput;
  const { models, datasets, dimensions } = useInputs();
  const [form, setForm] = useState<Form>(() => ({
    adapterName: "",
    method: "PARM",
    baseModelId: "",
    // Empty: the method's reference value (contracts/training-recipe.ts), chosen by the api.
    r1: "",
    r2: "",
    loraAlpha: "",
    learningRate: String(d.learningRate),
    epochs: "",
    batchSize: String(d.batchSize),
    gradAccum: String(d.gradAccum),
    warmupSteps: String(d.warmupSteps),
    weightDecay: String(d.weightDecay),
    dirichletP: String(d.dirichletP),
    seed: String(d.seed),
    checkpointEvery: String(d.checkpointEvery),
    maxPromptLength: "",
    maxLength: "",
    maxPairs: "",
    maxSteps: "",
  }));
  const [targets, setTargets] = useState<Set<string>>(() => new Set(d.targets));
  const [chosen, setChosen] = useState<Record<string, { on: boolean; datasetId: string; betaR: string }>>({});
  const [errors, setErrors] = useState<FormErrors>(NO_ERRORS);
  const [start, { running }] = useMutation(StartTraining);
  const set = (key: string) => (value: string) => setForm((f) => ({ ...f, [key]: value }));
  const bases = models.filter((m) => m.kind === "BASE" || m.kind === "ARM_BASE").map((m) => ({ value: m.id, label: `${m.name} (${m.kind})` }));
  const selected = dimensions.filter((dim) => chosen[dim.id]?.on);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const ints = ["r1", "r2", "epochs", "batchSize", "gradAccum", "warmupSteps", "seed", "checkpointEvery", "maxPromptLength", "maxLength", "maxPairs", "maxSteps"];
    const local: Record<string, string> = {};
    for (const k of ints) {
      const err = intError(form[k] ?? "");
      if (err) local[`input.${k}`] = err;
    }
    if (Object.keys(local).length) return setErrors({ fields: local, form: null });
    const num = (k: string) => numberOrUndefined(form[k] ?? "");
    const result = await start({
      input: {
        adapterName: form.adapterName!.trim(),
        method: form.method as AdapterMethod,
        baseModelId: form.baseModelId!,
        dimensions: selected.map((dim) => ({ dimensionId: dim.id, datasetId: chosen[dim.id]?.datasetId ?? "", betaR: numberOrUndefined(chosen[dim.id]?.betaR ?? "") })),
        r1: num("r1"),
        r2: num("r2"),
        loraAlpha: num("loraAlpha"),
        targets: TARGETS.filter((t) => targets.has(t)),
        learningRate: num("learningRate"),
        epochs: num("epochs"),
        batchSize: num("batchSize"),
        gradAccum: num("gradAccum"),
        warmupSteps: num("warmupSteps"),
        weightDecay: num("weightDecay"),
        dirichletP: num("dirichletP"),
        seed: num("seed"),
        checkpointEvery: num("checkpointEvery"),
        maxPromptLength: num("maxPromptLength"),
        maxLength: num("maxLength"),
        maxPairs: num("maxPairs"),
        maxSteps: num("maxSteps"),
      },
    });
    if (!result) return;
    const p = result.startTraining;
    if (p.__typename === "StartTrainingSuccess") navigate(`/jobs/${encodeURIComponent(p.job.id)}`);
    else setErrors(payloadErrors(p));
  };

  const f = (key: string) => fieldError(errors, `input.${key}`);
  const numberField = (key: string, label: string, hint?: string) => (
    <TextField key={key} label={label} type="number" value={form[key] ?? ""} onChange={set(key)} error={f(key)} hint={hint} />
  );
  return (
    <Section title="Train an ARM adapter">
      <form onSubmit={(e) => void submit(e)} aria-label="Train an ARM adapter" noValidate>
        <div className="form-grid">
          <TextField label="Adapter name" value={form.adapterName ?? ""} onChange={set("adapterName")} error={f("adapterName")} required />
          <SelectField
            label="Method"
            value={(form.method ?? "PARM") as AdapterMethod}
            onChange={set("method")}
            options={[
              { value: "PARM", label: "PARM (one PBLoRA adapter, α as input)" },
              { value: "GENARM", label: "GenARM (one LoRA per dimension)" },
            ]}
            error={f("method")}
          />
          <SelectField label="ARM backbone" value={form.baseModelId ?? ""} onChange={set("baseModelId")} options={bases} error={f("baseModelId")} hint="A BASE or ARM_BASE model" />
        </div>
        <fieldset style={{ marginTop: "0.75rem" }}>
          <legend>Objectives (α order = dimension position)</legend>
          {fieldError(errors, "input.dimensions") ? (
            <p className="field-error" role="alert">
              {fieldError(errors, "input.dimensions")}
            </p>
          ) : null}
          {dimensions.length === 0 ? <Empty>No dimensions yet.</Empty> : null}
          {dimensions.map((dim) => {
            const row = chosen[dim.id] ?? { on: false, datasetId: "", betaR: "" };
            const i = selected.findIndex((s) => s.id === dim.id);
            const options = datasets
              .filter((ds) => ds.dimensionMap.some((m) => m.dimensionId === dim.id))
              .map((ds) => ({ value: ds.id, label: ds.name }));
            const update = (patch: Partial<typeof row>) => setChosen((c) => ({ ...c, [dim.id]: { ...row, ...patch } }));
            return (
              <div className="form-grid" key={dim.id}>
                <CheckboxField label={`Train ${dim.name} (α[${dim.position}])`} checked={row.on} onChange={(on) => update({ on })} />
                {row.on ? (
                  <>
                    <SelectField
                      label={`Dataset for ${dim.name}`}
                      value={row.datasetId}
                      onChange={(datasetId) => update({ datasetId })}
                      options={options}
                      error={i >= 0 ? (fieldError(errors, `input.dimensions[${i}].datasetId`) ?? fieldError(errors, `input.dimensions[${i}]`)) : undefined}
                      hint={options.length === 0 ? "no READY dataset maps a label to it" : undefined}
                    />
                    <TextField
                      label={`β_r for ${dim.name}`}
                      type="number"
                      value={row.betaR}
                      onChange={(betaR) => update({ betaR })}
                      placeholder={String(dim.betaR)}
                      hint={`default: the dimension's ${dim.betaR}`}
                      error={i >= 0 ? fieldError(errors, `input.dimensions[${i}].betaR`) : undefined}
                    />
                  </>
                ) : null}
              </div>
            );
          })}
        </fieldset>
        <fieldset style={{ marginTop: "0.75rem" }}>
          <legend>Adapter</legend>
          <div className="form-grid">
            {numberField("r1", "r1 (shared rank)")}
            {numberField("r2", "r2 (preference-aware rank)")}
            {numberField("loraAlpha", "LoRA alpha")}
          </div>
          <div className="row" role="group" aria-label="Target projections" style={{ marginTop: "0.5rem" }}>
            {TARGETS.map((t) => (
              <CheckboxField
                key={t}
                label={t}
                checked={targets.has(t)}
                onChange={(on) =>
                  setTargets((s) => {
                    const next = new Set(s);
                    if (on) next.add(t);
                    else next.delete(t);
                    return next;
                  })
                }
              />
            ))}
          </div>
          {f("targets") ?? Object.entries(errors.fields).find(([k]) => k.startsWith("input.targets"))?.[1] ? (
            <p className="field-error" role="alert">
              {f("targets") ?? Object.entries(errors.fields).find(([k]) => k.startsWith("input.targets"))?.[1]}
            </p>
          ) : null}
        </fieldset>
        <fieldset style={{ marginTop: "0.75rem" }}>
          <legend>Optimisation</legend>
          <div className="form-grid">
            {numberField("learningRate", "Learning rate")}
            {numberField("epochs", "Epochs")}
            {numberField("batchSize", "Batch size")}
            {numberField("gradAccum", "Gradient accumulation")}
            {numberField("warmupSteps", "Warm-up steps")}
            {numberField("weightDecay", "Weight decay")}
            {numberField("dirichletP", "Dirichlet p (α sampling)")}
            {numberField("seed", "Seed")}
            {numberField("checkpointEvery", "Checkpoint every N steps", "0 = only at the end")}
          </div>
        </fieldset>
        <fieldset style={{ marginTop: "0.75rem" }}>
          <legend>Lengths and limits (empty: derived by the API)</legend>
          <div className="form-grid">
            {numberField("maxLength", "Max length (tokens)", "default: min(1024, model context)")}
            {numberField("maxPromptLength", "Max prompt length", "default: min(512, maxLength / 2)")}
            {numberField("maxPairs", "Max pairs per dataset", "default: all TRAIN pairs")}
            {numberField("maxSteps", "Max optimizer steps", "default: epochs decide")}
          </div>
        </fieldset>
        <FormError message={errors.form} />
        <div className="form-actions">
          <button type="submit" className="primary" disabled={running}>
            Start training
          </button>
        </div>
      </form>
    </Section>
  );
}

function EvaluatorForm() {
  const d = inputDefaults.TrainEvaluatorInput;
  const { models, datasets, dimensions } = useInputs();
  const [form, setForm] = useState<Form>(() => ({
    evaluatorName: "",
    dimensionId: "",
    baseModelId: "",
    datasetId: "",
    learningRate: String(d.learningRate),
    epochs: String(d.epochs),
    batchSize: String(d.batchSize),
    seed: String(d.seed),
    maxLength: "",
    pooling: d.pooling,
    trainSplit: d.trainSplit,
    heldOutSplit: d.heldOutSplit,
  }));
  const [errors, setErrors] = useState<FormErrors>(NO_ERRORS);
  const [start, { running }] = useMutation(TrainEvaluator);
  const set = (key: string) => (value: string) => setForm((f) => ({ ...f, [key]: value }));
  const f = (key: string) => fieldError(errors, `input.${key}`);
  const bases = models.filter((m) => m.kind === "BASE" || m.kind === "ARM_BASE").map((m) => ({ value: m.id, label: m.name }));
  const dsOptions = useMemo(
    () => datasets.filter((ds) => !form.dimensionId || ds.dimensionMap.some((m) => m.dimensionId === form.dimensionId)).map((ds) => ({ value: ds.id, label: ds.name })),
    [datasets, form.dimensionId],
  );

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const local: Record<string, string> = {};
    for (const k of ["epochs", "batchSize", "seed", "maxLength"]) {
      const err = intError(form[k] ?? "");
      if (err) local[`input.${k}`] = err;
    }
    if (Object.keys(local).length) return setErrors({ fields: local, form: null });
    const num = (k: string) => numberOrUndefined(form[k] ?? "");
    const result = await start({
      input: {
        evaluatorName: form.evaluatorName!.trim(),
        dimensionId: form.dimensionId!,
        baseModelId: form.baseModelId!,
        datasetId: form.datasetId!,
        learningRate: num("learningRate"),
        epochs: num("epochs"),
        batchSize: num("batchSize"),
        seed: num("seed"),
        maxLength: num("maxLength"),
        pooling: form.pooling as EvaluatorPooling,
        trainSplit: form.trainSplit as DatasetSplit,
        heldOutSplit: form.heldOutSplit as DatasetSplit,
      },
    });
    if (!result) return;
    const p = result.trainEvaluator;
    if (p.__typename === "TrainEvaluatorSuccess") navigate(`/jobs/${encodeURIComponent(p.job.id)}`);
    else setErrors(payloadErrors(p));
  };

  return (
    <Section title="Train an evaluator">
      <form onSubmit={(e) => void submit(e)} aria-label="Train an evaluator" noValidate>
        <div className="form-grid">
          <TextField label="Evaluator name" value={form.evaluatorName ?? ""} onChange={set("evaluatorName")} error={f("evaluatorName")} required />
          <SelectField label="Dimension it scores" value={form.dimensionId ?? ""} onChange={set("dimensionId")} options={dimensions.map((x) => ({ value: x.id, label: x.name }))} error={f("dimensionId")} />
          <SelectField label="Backbone" value={form.baseModelId ?? ""} onChange={set("baseModelId")} options={bases} error={f("baseModelId")} />
          <SelectField label="Dataset" value={form.datasetId ?? ""} onChange={set("datasetId")} options={dsOptions} error={f("datasetId")} />
          <TextField label="Learning rate" type="number" value={form.learningRate ?? ""} onChange={set("learningRate")} error={f("learningRate")} />
          <TextField label="Epochs" type="number" value={form.epochs ?? ""} onChange={set("epochs")} error={f("epochs")} />
          <TextField label="Batch size" type="number" value={form.batchSize ?? ""} onChange={set("batchSize")} error={f("batchSize")} />
          <TextField label="Seed" type="number" value={form.seed ?? ""} onChange={set("seed")} error={f("seed")} />
          <TextField label="Max length (tokens)" type="number" value={form.maxLength ?? ""} onChange={set("maxLength")} error={f("maxLength")} hint="default: min(1024, model context)" />
          <SelectField
            label="Pooling"
            value={(form.pooling ?? "LAST") as EvaluatorPooling}
            onChange={set("pooling")}
            options={[
              { value: "LAST", label: "LAST (last token)" },
              { value: "MEAN", label: "MEAN (mean over the response)" },
            ]}
            error={f("pooling")}
          />
          <SelectField label="Train split" value={(form.trainSplit ?? "VALIDATION") as DatasetSplit} onChange={set("trainSplit")} options={SPLITS} error={f("trainSplit")} hint="keep it disjoint from the ARM's TRAIN split" />
          <SelectField label="Held-out split" value={(form.heldOutSplit ?? "TEST") as DatasetSplit} onChange={set("heldOutSplit")} options={SPLITS} error={f("heldOutSplit")} />
        </div>
        <FormError message={errors.form} />
        <div className="form-actions">
          <button type="submit" className="primary" disabled={running}>
            Start evaluator training
          </button>
        </div>
      </form>
    </Section>
  );
}

/** A job's name from its payload: the adapter / evaluator it will produce, else its kind. */
export function jobLabel(kind: string, payload: unknown): string {
  const p = (payload ?? {}) as { adapterName?: unknown; evaluatorName?: unknown };
  if (typeof p.adapterName === "string") return p.adapterName;
  if (typeof p.evaluatorName === "string") return p.evaluatorName;
  return kind.toLowerCase().replace("_", " ");
}

function JobList() {
  const [kind, setKind] = useState<JobKind | "ALL">("ALL");
  const [status, setStatus] = useState<JobStatus | "ALL">("ALL");
  const { data } = useQuery(JobsQuery, { kind: kind === "ALL" ? null : kind, status: status === "ALL" ? null : status }, { pollMs: 3000 });
  const jobs = data?.jobs.edges.map((e) => e.node) ?? [];
  return (
    <Section
      title="Jobs"
      actions={
        <>
          <SelectField label="Kind" value={kind} onChange={setKind} options={KINDS} />
          <SelectField label="Status" value={status} onChange={setStatus} options={STATUSES} />
        </>
      }
    >
      {!data ? (
        <p aria-busy="true">Loading…</p>
      ) : jobs.length === 0 ? (
        <Empty>No jobs match.</Empty>
      ) : (
        <table data-testid="jobs-table">
          <thead>
            <tr>
              <th>Job</th>
              <th>Name</th>
              <th>Kind</th>
              <th>Status</th>
              <th>Progress</th>
              <th>Created</th>
            </tr>
          </thead>
          <tbody>
            {jobs.map((j) => (
              <tr key={j.id}>
                <td>
                  <Link to={`/jobs/${encodeURIComponent(j.id)}`} aria-label={`Job ${jobLabel(j.kind, j.payload)} ${shortId(j.id)}`}>
                    {shortId(j.id)}
                  </Link>
                </td>
                <td>{jobLabel(j.kind, j.payload)}</td>
                <td>{j.kind}</td>
                <td>
                  <StatusBadge status={j.status} />
                  {j.error ? <div className="muted">{j.error}</div> : null}
                </td>
                <td style={{ minWidth: "12rem" }}>
                  <ProgressBar value={j.progress} label={`Progress of job ${shortId(j.id)}`} />
                </td>
                <td>{formatTime(j.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Section>
  );
}
