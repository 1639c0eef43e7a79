/** @module web/pages/Playground
 *  Guided generation: a base model and an adapter (or none), several preference vectors α side by side (up to 6
 *  columns, each with a chooser that fits k), all sent in ONE `generate` request (α-batched on the runner), tokens
 *  streaming live into each column over `generationTokens`, with time to first token and tokens/s per column; β,
 *  temperature, top-k / top-p, seed, stop strings, max tokens; cancel. */
import { useEffect, useMemo, useState, type FormEvent } from "react";
import { graphql } from "../gql/index.ts";
import { inputDefaults } from "../generated/input-defaults.ts";
import { useMutation, useQuery } from "../lib/hooks.ts";
import { useLocation } from "../lib/router.tsx";
import { NO_ERRORS, fieldError, payloadErrors, type FormErrors } from "../lib/form-errors.ts";
import { useGenerationTokens } from "../lib/streams.ts";
import { formatAlpha, formatNumber } from "../lib/format.ts";
import { FormError, SelectField, TextField, intError, numberOrUndefined } from "../components/forms.tsx";
import { AlphaChooser } from "../components/AlphaChooser.tsx";
import { normalise, spreadAlphas } from "../lib/simplex.ts";
import { PageTitle, Section } from "../components/ui.tsx";

const PlaygroundInputs = graphql(`
  query PlaygroundInputs($pageSize: Int = 100) {
    models(first: $pageSize) {
      edges {
        node {
          id
          name
          kind
          vocabSize
        }
      }
    }
    adapters(first: $pageSize) {
      edges {
        node {
          id
          name
          method
          baseModelId
          dimensionNames
        }
      }
    }
  }
`);

const Generate = graphql(`
  mutation Generate($input: GenerateInput!) {
    generate(input: $input) {
      __typename
      ... on GenerateSuccess {
        generation {
          id
          jobId
          alphas
        }
      }
      ... on InvalidPreferenceVector {
        code
        index
        message
      }
      ... on VocabularyMismatch {
        baseVocabSize
        otherVocabSize
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

const GenerationResult = graphql(`
  query GenerationResult($id: ID!) {
    node(id: $id) {
      __typename
      ... on Generation {
        id
        status
        outputs {
          alpha
          text
          tokenCount
          finishReason
        }
        job {
          id
          status
          error
        }
      }
    }
  }
`);

const CancelGeneration = graphql(`
  mutation CancelGeneration($input: CancelJobInput!) {
    cancelJob(input: $input) {
      __typename
      ... on CancelJobSuccess {
        job {
          id
          status
        }
      }
      ... on JobNotCancellable {
        message
      }
      ... on NotFoundError {
        message
      }
      ... on ValidationError {
        message
      }
    }
  }
`);

const MAX_COLUMNS = 6;

export default function Playground() {
  const { search } = useLocation();
  const { data } = useQuery(PlaygroundInputs, {});
  const models = data?.models.edges.map((e) => e.node).filter((m) => m.kind !== "EVALUATOR") ?? [];
  const adapters = data?.adapters.edges.map((e) => e.node) ?? [];
  const s = inputDefaults.SamplingInput;
  const g = inputDefaults.GenerateInput;
  const [baseModelId, setBaseModelId] = useState("");
  const [adapterId, setAdapterId] = useState(search.get("adapter") ?? "");
  const adapter = adapters.find((a) => a.id === adapterId) ?? null;
  const k = adapter?.dimensionNames.length ?? 0;
  const [alphas, setAlphas] = useState<number[][]>([[]]);
  const [prompt, setPrompt] = useState("Once upon a time");
  const [form, setForm] = useState<Record<string, string>>({
    beta: String(g.beta),
    maxTokens: String(g.maxTokens),
    temperature: String(s.temperature),
    topK: String(s.topK),
    topP: String(s.topP),
    seed: "",
    stop: "",
  });
  const [errors, setErrors] = useState<FormErrors>(NO_ERRORS);
  const [run, setRun] = useState<{ generationId: string; jobId: string; alphas: number[][]; sentAt: number } | null>(null);
  const [generate, { running }] = useMutation(Generate);
  const [cancel] = useMutation(CancelGeneration);
  const set = (key: string) => (value: string) => setForm((f) => ({ ...f, [key]: value }));

  // Adapter chosen: the base defaults to its backbone (change it for another model of the same vocabulary); α
  // columns reset to fit k.
  useEffect(() => {
    if (adapter) setBaseModelId(adapter.baseModelId);
    setAlphas((current) => (current.length && current[0]!.length === k ? current : spreadAlphas(k, k === 0 ? 1 : 2)));
  }, [adapter?.id, k]); // eslint-disable-line react-hooks/exhaustive-deps
  useEffect(() => {
    if (!baseModelId && models[0]) setBaseModelId(models[0].id);
  }, [models.length]); // eslint-disable-line react-hooks/exhaustive-deps

  const stream = useGenerationTokens(run?.generationId ?? null, run?.alphas.length ?? 0);
  const finished = stream.status.state === "done" || stream.status.state === "failed";
  const result = useQuery(GenerationResult, { id: run?.generationId ?? "" }, { skip: !run || !finished });
  const outputs = result.data?.node?.__typename === "Generation" ? result.data.node.outputs : null;
  const job = result.data?.node?.__typename === "Generation" ? result.data.node.job : null;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const local: Record<string, string> = {};
    for (const key of ["maxTokens", "topK", "seed"]) {
      const err = intError(form[key] ?? "");
      if (err) local[`input.${key === "maxTokens" ? key : `sampling.${key}`}`] = err;
    }
    if (Object.keys(local).length) return setErrors({ fields: local, form: null });
    const stop = (form.stop ?? "").split("\n").filter((line) => line.length > 0);
    const sent = adapter ? alphas : [[]];
    const r = await generate({
      input: {
        baseModelId,
        adapterId: adapter ? adapter.id : undefined,
        prompt,
        alphas: sent,
        beta: numberOrUndefined(form.beta ?? ""),
        maxTokens: numberOrUndefined(form.maxTokens ?? ""),
        sampling: {
          temperature: numberOrUndefined(form.temperature ?? ""),
          topK: numberOrUndefined(form.topK ?? ""),
          topP: numberOrUndefined(form.topP ?? ""),
          seed: numberOrUndefined(form.seed ?? ""),
          stop,
        },
      },
    });
    if (!r) return;
    const p = r.generate;
    if (p.__typename === "GenerateSuccess") {
      setErrors(NO_ERRORS);
      setRun({ generationId: p.generation.id, jobId: p.generation.jobId, alphas: p.generation.alphas.map((a) => [...a]), sentAt: Date.now() });
    } else setErrors(payloadErrors(p));
  };

  const names = adapter?.dimensionNames ?? [];
  const columnAlphas = run?.alphas ?? (adapter ? alphas : [[]]);
  const f = (key: string) => fieldError(errors, key);
  return (
    <>
      <PageTitle title="Playground">
        Steer a base model with a trained ARM: every column is one preference vector α, and all columns come from one
        request, decoded together on a runner.
      </PageTitle>
      <Section title="Request">
        <form onSubmit={(e) => void submit(e)} aria-label="Generation request" noValidate>
          <div className="form-grid">
            <SelectField
              label="Base model"
              value={baseModelId}
              onChange={setBaseModelId}
              options={models.map((m) => ({ value: m.id, label: `${m.name} (${m.kind}, vocab ${m.vocabSize ?? "?"})` }))}
              error={f("input.baseModelId")}
            />
            <SelectField
              label="Adapter"
              value={adapterId || "none"}
              onChange={(v) => setAdapterId(v === "none" ? "" : v)}
              options={[{ value: "none", label: "none (unguided)" }, ...adapters.map((a) => ({ value: a.id, label: `${a.name} (${a.method}: ${a.dimensionNames.join(", ")})` }))]}
              error={f("input.adapterId")}
            />
            <TextField label="β (guidance strength 1/β)" type="number" value={form.beta ?? ""} onChange={set("beta")} error={f("input.beta")} />
            <TextField label="Max tokens" type="number" value={form.maxTokens ?? ""} onChange={set("maxTokens")} error={f("input.maxTokens")} />
            <TextField label="Temperature" type="number" value={form.temperature ?? ""} onChange={set("temperature")} error={f("input.sampling.temperature")} hint="0 = greedy" />
            <TextField label="Top-k" type="number" value={form.topK ?? ""} onChange={set("topK")} error={f("input.sampling.topK")} hint="0 = off" />
            <TextField label="Top-p" type="number" value={form.topP ?? ""} onChange={set("topP")} error={f("input.sampling.topP")} hint="1 = off" />
            <TextField label="Seed" type="number" value={form.seed ?? ""} onChange={set("seed")} error={f("input.sampling.seed")} hint="empty: random" />
            <TextField className="wide" label="Prompt" value={prompt} onChange={setPrompt} multiline rows={3} error={f("input.prompt")} />
            <TextField label="Stop strings (one per line)" value={form.stop ?? ""} onChange={set("stop")} multiline rows={2} error={Object.entries(errors.fields).find(([key]) => key.startsWith("input.sampling.stop"))?.[1]} />
          </div>
          {adapter ? (
            <fieldset style={{ marginTop: "0.75rem" }}>
              <legend>
                Preference vectors α ({k} dimensions: {names.join(", ")})
              </legend>
              <div className="columns">
                {alphas.map((alpha, i) => (
                  <div className="column" key={i}>
                    <div className="column-head">
                      <strong>Column {i + 1}</strong>
                      <button type="button" onClick={() => setAlphas((list) => list.filter((_, j) => j !== i))} disabled={alphas.length <= 1} aria-label={`Remove column ${i + 1}`}>
                        Remove
                      </button>
                    </div>
                    <AlphaChooser names={names} value={alpha} label={`α of column ${i + 1}`} onChange={(next) => setAlphas((list) => list.map((a, j) => (j === i ? next : a)))} />
                    {f(`input.alphas[${i}]`) ? (
                      <span className="field-error" role="alert">
                        {f(`input.alphas[${i}]`)}
                      </span>
                    ) : null}
                  </div>
                ))}
              </div>
              <div className="form-actions">
                <button type="button" onClick={() => setAlphas((list) => [...list, normalise(Array.from({ length: k }, () => 1))])} disabled={alphas.length >= MAX_COLUMNS}>
                  Add column
                </button>
                <span className="muted">up to {MAX_COLUMNS} columns</span>
              </div>
            </fieldset>
          ) : (
            <p className="muted">Without an adapter the base model decodes unguided (one column).</p>
          )}
          <FormError message={errors.form ?? f("input.alphas")} />
          <div className="form-actions">
            <button type="submit" className="primary" disabled={running || !baseModelId}>
              Generate
            </button>
            {run && !finished ? (
              <button type="button" className="danger" onClick={() => void cancel({ input: { jobId: run.jobId } })}>
                Cancel
              </button>
            ) : null}
            {run ? (
              <span role="status" data-testid="generation-status">
                {stream.status.state === "live" ? "streaming…" : stream.status.state === "done" ? "done" : stream.status.state === "failed" ? `${stream.status.code}: ${stream.status.reason}` : ""}
              </span>
            ) : null}
          </div>
        </form>
      </Section>
      {run ? (
        <Section title="Outputs">
          <div className="columns" data-testid="output-columns">
            {columnAlphas.map((alpha, i) => (
              <OutputColumn
                key={`${run.generationId}-${i}`}
                index={i}
                alpha={alpha}
                names={names}
                sentAt={run.sentAt}
                text={stream.outputs[i]?.text ?? ""}
                tokens={stream.outputs[i]?.tokens ?? 0}
                firstAt={stream.outputs[i]?.firstAt ?? null}
                lastAt={stream.outputs[i]?.lastAt ?? null}
                finishReason={outputs?.[i]?.finishReason ?? null}
                storedTokens={outputs?.[i]?.tokenCount ?? null}
              />
            ))}
          </div>
          {job?.error ? <p className="form-error">{job.error}</p> : null}
        </Section>
      ) : null}
    </>
  );
}

function OutputColumn(props: {
  index: number;
  alpha: readonly number[];
  names: readonly string[];
  sentAt: number;
  text: string;
  tokens: number;
  firstAt: number | null;
  lastAt: number | null;
  finishReason: string | null;
  storedTokens: number | null;
}) {
  const ttft = props.firstAt !== null ? (props.firstAt - props.sentAt) / 1000 : null;
  const rate = useMemo(() => {
    if (props.firstAt === null || props.lastAt === null || props.tokens < 2 || props.lastAt === props.firstAt) return null;
    return (props.tokens - 1) / ((props.lastAt - props.firstAt) / 1000);
  }, [props.firstAt, props.lastAt, props.tokens]);
  const title = props.alpha.length ? `α ${formatAlpha(props.alpha)}` : "unguided";
  return (
    <article
      className="column"
      aria-label={`Output ${props.index + 1}: ${title}`}
      data-testid={`output-${props.index}`}
      data-tokens={props.tokens}
      data-first-at={props.firstAt ?? undefined}
      data-last-at={props.lastAt ?? undefined}
    >
      <div className="column-head">
        <strong>{title}</strong>
        {props.finishReason ? <span className="badge tone-neutral">{props.finishReason}</span> : null}
      </div>
      {props.names.length ? (
        <span className="metrics-line">{props.names.map((n, i) => `${n} ${(props.alpha[i] ?? 0).toFixed(2)}`).join(" · ")}</span>
      ) : null}
      <div className="output" aria-live="off">
        {props.text}
      </div>
      <span className="metrics-line">
        {props.tokens} tokens{props.storedTokens !== null && props.storedTokens !== props.tokens ? ` (stored ${props.storedTokens})` : ""} · TTFT {ttft === null ? "—" : `${ttft.toFixed(2)} s`} · {rate === null ? "—" : `${formatNumber(rate, 1)} tok/s`}
      </span>
    </article>
  );
}
