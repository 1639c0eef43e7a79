/** @module web/pages/JobDetail
 *  One job, live: a status timeline (queued → running → finished), a progress bar with percent and ETA, the loss
 *  curve of each objective and the learning rate from `jobEvents` progress events, tokens/s, checkpoint and resume
 *  events, cancel, and — once trained — the resulting adapter (or evaluator) with its metrics. */
import { useEffect, useMemo } from "react";
import { graphql } from "../gql/index.ts";
import type { TrainJobPayload, TrainEvaluatorPayload } from "../../../src/contracts/jobs.ts";
import { useMutation, useQuery } from "../lib/hooks.ts";
import { Link } from "../lib/router.tsx";
import { useJobEvents, type RunnerEvent, type StreamedJobEvent } from "../lib/streams.ts";
import { formatNumber, formatSeconds, formatTime, shortId } from "../lib/format.ts";
import { payloadErrors } from "../lib/form-errors.ts";
import { LineChart } from "../charts/LineChart.tsx";
import { FormError } from "../components/forms.tsx";
import { PageTitle, ProgressBar, Section, StatusBadge } from "../components/ui.tsx";
import { DownloadButton } from "../components/DownloadButton.tsx";
import { jobLabel } from "./Training.tsx";
import { useState } from "react";

const JobQuery = graphql(`
  query Job($id: ID!, $pageSize: Int = 100) {
    node(id: $id) {
      __typename
      ... on Job {
        id
        kind
        status
        payload
        progress
        progressDetail
        attempts
        error
        cancelRequested
        createdAt
        startedAt
        finishedAt
        checkpointDownloadUrl
      }
    }
    adapters(first: $pageSize) {
      edges {
        node {
          id
          name
          method
          jobId
          dimensionNames
          metrics
          artifactDigest
          createdAt
          downloadUrl
          dimensionDownloadUrls
        }
      }
    }
  }
`);

const CancelJob = graphql(`
  mutation CancelJob($input: CancelJobInput!) {
    cancelJob(input: $input) {
      __typename
      ... on CancelJobSuccess {
        job {
          id
          status
          cancelRequested
        }
      }
      ... on JobNotCancellable {
        jobId
        status
        message
      }
      ... on NotFoundError {
        id
        message
      }
      ... on ValidationError {
        field
        message
      }
    }
  }
`);

type Progress = Extract<RunnerEvent, { type: "progress" }>;

function objectiveNames(payload: unknown, k: number): string[] {
  const p = payload as Partial<TrainJobPayload & TrainEvaluatorPayload> | null;
  const dims = (p as { dimensions?: { name: string }[] } | null)?.dimensions;
  if (dims?.length === k) return dims.map((d) => d.name);
  const single = (p as { dimension?: { name: string } } | null)?.dimension;
  if (single && k === 1) return [single.name];
  return Array.from({ length: k }, (_, i) => `objective ${i}`);
}

export default function JobDetail({ params }: { params: Record<string, string> }) {
  const id = params.id ?? "";
  const { data, refetch } = useQuery(JobQuery, { id });
  const { events, status: stream } = useJobEvents(id);
  const [cancel, { running: cancelling }] = useMutation(CancelJob);
  const [cancelError, setCancelError] = useState<string | null>(null);
  const job = data?.node?.__typename === "Job" ? data.node : null;

  // Status changes arrive as events: refetch the row when one lands, and when the stream ends.
  const lastType = events[events.length - 1]?.type;
  useEffect(() => {
    if (lastType === "started" || lastType === "completed" || lastType === "failed" || lastType === "artifact") void refetch();
  }, [lastType, events.length, refetch]);
  useEffect(() => {
    if (stream.state === "done" || stream.state === "failed") void refetch();
  }, [stream.state, refetch]);

  const progress = useMemo(() => events.filter((e): e is StreamedJobEvent & { event: Progress } => e.event.type === "progress"), [events]);
  const k = progress.reduce((m, e) => Math.max(m, e.event.lossPerObjective.length), 0);
  const names = objectiveNames(job?.payload, k);
  const steps = useMemo(() => progress.map((e) => e.event.step), [progress]);
  const lossSeries = useMemo(() => names.map((name, i) => ({ label: `loss ${name}`, values: progress.map((e) => e.event.lossPerObjective[i] ?? null) })), [progress, names.join("\u0000")]);
  const lrSeries = useMemo(() => [{ label: "learning rate", values: progress.map((e) => e.event.metrics?.learningRate ?? null) }], [progress]);
  const tpsSeries = useMemo(() => [{ label: "tokens/s", values: progress.map((e) => e.event.tokensPerSecond) }], [progress]);
  const hasLr = lrSeries[0]!.values.some((v) => v !== null);
  const latest = progress[progress.length - 1]?.event;

  if (data && !job) return <PageTitle title="Job not found">No job with this id is visible to your key.</PageTitle>;
  if (!job) return <p aria-busy="true">Loading…</p>;
  const active = job.status === "QUEUED" || job.status === "RUNNING";
  const adapter = data?.adapters.edges.map((e) => e.node).find((a) => a.jobId === job.id);
  const completed = events.find((e) => e.event.type === "completed")?.event as Extract<RunnerEvent, { type: "completed" }> | undefined;

  const doCancel = async () => {
    const result = await cancel({ input: { jobId: job.id } });
    if (!result) return;
    const p = result.cancelJob;
    if (p.__typename === "CancelJobSuccess") {
      setCancelError(null);
      void refetch();
    } else setCancelError(payloadErrors(p).form ?? "refused");
  };

  return (
    <>
      <PageTitle title={`Job ${jobLabel(job.kind, job.payload)}`}>
        <Link to="/training">All jobs</Link> · {job.kind} · id <span className="mono">{shortId(job.id)}</span> · attempt {job.attempts}
      </PageTitle>
      <Section
        title="Status"
        actions={
          active ? (
            <button type="button" className="danger" onClick={() => void doCancel()} disabled={cancelling || job.cancelRequested}>
              {job.cancelRequested ? "Cancelling…" : "Cancel job"}
            </button>
          ) : null
        }
      >
        <Timeline job={job} />
        <div data-testid="job-status">
          <StatusBadge status={job.status} /> {job.error ? <span className="form-error">{job.error}</span> : null}
        </div>
        <FormError message={cancelError} />
        <div style={{ marginTop: "0.75rem" }}>
          <ProgressBar value={latest?.percent ?? job.progress} eta={active ? (latest?.etaSeconds ?? null) : null} label="Job progress" />
          {latest ? (
            <p className="muted" data-testid="progress-detail">
              step {latest.step} of {latest.totalSteps} · {formatNumber(latest.tokensPerSecond, 0)} tokens/s
            </p>
          ) : null}
          <p className="muted">
            Live events: {stream.state === "live" ? "streaming" : stream.state === "done" ? "complete" : stream.state === "failed" ? `ended (${stream.code}: ${stream.reason})` : "—"} ·{" "}
            <span data-testid="event-count">{events.length}</span> events
          </p>
        </div>
      </Section>
      {k > 0 ? (
        <Section title="Training curves">
          <div className="row">
            <div className="grow">
              <LineChart title="Loss per objective" x={steps} xLabel="step" yLabel="loss" series={lossSeries} testId="loss-chart" />
            </div>
            {hasLr ? (
              <div className="grow">
                <LineChart title="Learning rate" x={steps} xLabel="step" yLabel="lr" series={lrSeries} testId="lr-chart" />
              </div>
            ) : null}
          </div>
          <LineChart title="Throughput" x={steps} xLabel="step" yLabel="tokens/s" series={tpsSeries} height={160} />
        </Section>
      ) : null}
      {adapter || completed ? (
        <Section title={adapter ? `Adapter ${adapter.name}` : "Result"}>
          {adapter ? (
            <p>
              {adapter.method} adapter over {adapter.dimensionNames.join(", ")} (α order) · digest <span className="mono">{adapter.artifactDigest?.slice(0, 16) ?? "—"}</span> ·{" "}
              <Link to={`/playground?adapter=${encodeURIComponent(adapter.id)}`}>Open in the playground</Link> ·{" "}
              <Link to={`/evaluations?adapter=${encodeURIComponent(adapter.id)}`}>Evaluate</Link>
            </p>
          ) : null}
          {adapter ? (
            <div className="row" data-testid="adapter-downloads">
              <DownloadButton path={adapter.downloadUrl} fileName={`${adapter.name}.safetensors`} label="Download adapter" />
              {adapter.dimensionDownloadUrls.map((path, i) => (
                <DownloadButton key={path} path={path} fileName={`${adapter.name}-${adapter.dimensionNames[i] ?? i}.safetensors`} label={`Download ARM for ${adapter.dimensionNames[i] ?? i}`} />
              ))}
              <DownloadButton path={job.checkpointDownloadUrl} fileName={`${adapter.name}.checkpoint`} label="Download last checkpoint" />
            </div>
          ) : null}
          <Metrics metrics={(adapter?.metrics as Record<string, number> | null | undefined) ?? completed?.metrics ?? {}} />
        </Section>
      ) : null}
      <Section title="Events">
        <EventTable events={events} />
      </Section>
    </>
  );
}

function Timeline({ job }: { job: { status: string; createdAt: string; startedAt?: string | null; finishedAt?: string | null } }) {
  const failed = job.status === "FAILED" || job.status === "CANCELLED";
  const steps = [
    { label: "Queued", at: job.createdAt, state: "done" },
    { label: "Running", at: job.startedAt, state: job.startedAt ? (job.status === "RUNNING" ? "current" : "done") : "" },
    {
      label: job.status === "SUCCEEDED" || !failed ? "Succeeded" : job.status === "CANCELLED" ? "Cancelled" : "Failed",
      at: job.finishedAt,
      state: job.finishedAt ? (failed ? "failed" : "done") : "",
    },
  ];
  const took = job.startedAt && job.finishedAt ? (new Date(job.finishedAt).getTime() - new Date(job.startedAt).getTime()) / 1000 : null;
  return (
    <ol className="timeline" aria-label="Status timeline">
      {steps.map((s) => (
        <li key={s.label} className={s.state}>
          <strong>{s.label}</strong>
          <div className="muted">{s.at ? formatTime(s.at) : "—"}</div>
          {s.label !== "Queued" && s.label !== "Running" && took !== null ? <div className="muted">ran {formatSeconds(took)}</div> : null}
        </li>
      ))}
    </ol>
  );
}

function Metrics({ metrics }: { metrics: Record<string, number> }) {
  const entries = Object.entries(metrics);
  if (entries.length === 0) return null;
  return (
    <table aria-label="Final metrics">
      <thead>
        <tr>
          <th>Metric</th>
          <th className="num">Value</th>
        </tr>
      </thead>
      <tbody>
        {entries.map(([k, v]) => (
          <tr key={k}>
            <td className="mono">{k}</td>
            <td className="num">{formatNumber(v, 5)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function describe(e: RunnerEvent): string {
  switch (e.type) {
    case "started":
      return `runner ${e.runnerId} on ${e.device}, attempt ${e.attempt}${e.resumedFromStep > 0 ? `, resumed from step ${e.resumedFromStep}` : ""}`;
    case "progress":
      return `step ${e.step}/${e.totalSteps} · ${e.percent.toFixed(1)} %${e.lossPerObjective.length ? ` · loss ${e.lossPerObjective.map((l) => l.toFixed(4)).join(" / ")}` : ""}`;
    case "artifact":
      return `${e.kind}${e.step !== undefined ? ` at step ${e.step}` : ""}: ${e.key} (${e.sizeBytes} bytes)`;
    case "completed":
      return `completed in ${formatSeconds(e.durationSeconds)}`;
    case "failed":
      return `${e.code}: ${e.reason}${e.retryable ? " (retryable)" : ""}`;
    case "token":
      return `output ${e.outputIndex} token ${e.position}: ${JSON.stringify(e.text)}`;
    case "point":
      return `point ${e.index} at α (${e.alpha.join(", ")}): ${e.rewards.map((r) => r.toFixed(3)).join(" / ")}`;
  }
}

function EventTable({ events }: { events: StreamedJobEvent[] }) {
  // Progress and token events can number thousands: show milestones, and the last progress/token events.
  const milestones = events.filter((e) => e.type !== "progress" && e.type !== "token");
  const tail = events.filter((e) => e.type === "progress" || e.type === "token").slice(-5);
  const rows = [...milestones, ...tail].sort((a, b) => a.seq - b.seq);
  if (rows.length === 0) return <p className="muted">No events yet.</p>;
  return (
    <table data-testid="events-table">
      <thead>
        <tr>
          <th className="num">Seq</th>
          <th>Type</th>
          <th>Detail</th>
          <th>At</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((e) => (
          <tr key={e.seq}>
            <td className="num">{e.seq}</td>
            <td>{e.type === "artifact" && e.event.type === "artifact" && e.event.kind === "checkpoint" ? "checkpoint" : e.type}</td>
            <td>{describe(e.event)}</td>
            <td>{formatTime(e.createdAt)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
