/** @module web/pages/EvaluationDetail
 *  One evaluation, live: the Pareto plot fills as `evaluationPoints` streams in (points labelled by α, the front as
 *  a step line, the reference point), HV and MIP computed as points arrive with the runner's own Pareto code
 *  (engine/pareto, pure) and replaced by the stored values when the job completes; a table of points; up to two
 *  more evaluations overlaid (e.g. PARM against GenARM); downloads of the report JSON and the plot PNG. */
import { useEffect, useMemo, useRef, useState } from "react";
import { graphql } from "../gql/index.ts";
import { paretoFrontIndices } from "../../../src/gpu-runner/engine/pareto/front.ts";
import { hypervolume, referencePoint as deriveReference } from "../../../src/gpu-runner/engine/pareto/hypervolume.ts";
import { meanInnerProduct } from "../../../src/gpu-runner/engine/pareto/mip.ts";
import { useMutation, useQuery } from "../lib/hooks.ts";
import { Link } from "../lib/router.tsx";
import { useEvaluationPoints, type StreamedPoint } from "../lib/streams.ts";
import { formatAlpha, formatNumber, formatTime, shortId } from "../lib/format.ts";
import { ParetoPlot, type ParetoPlotHandle, type ParetoSet } from "../charts/ParetoPlot.tsx";
import { downloadBlob } from "../charts/palette.ts";
import { CheckboxField, SelectField } from "../components/forms.tsx";
import { PageTitle, ProgressBar, Section, StatusBadge } from "../components/ui.tsx";
import { DownloadButton } from "../components/DownloadButton.tsx";

const EvaluationQuery = graphql(`
  query Evaluation($id: ID!, $pageSize: Int = 100, $listSize: Int = 50) {
    node(id: $id) {
      __typename
      ... on Evaluation {
        id
        jobId
        adapterId
        status
        gridStep
        split
        promptCount
        evaluatorIds
        referencePoint
        hypervolume
        mip
        report
        createdAt
        downloadUrl
        plotDownloadUrl
        points {
          index
          alpha
          rewards
          onFront
        }
        job {
          id
          status
          progress
          error
          cancelRequested
        }
      }
    }
    adapters(first: $pageSize) {
      edges {
        node {
          id
          name
          method
          dimensionNames
        }
      }
    }
    evaluations(first: $listSize) {
      edges {
        node {
          id
          adapterId
          status
          gridStep
          referencePoint
          hypervolume
          points {
            index
            alpha
            rewards
            onFront
          }
        }
      }
    }
  }
`);

const CancelEvaluation = graphql(`
  mutation CancelEvaluation($input: CancelJobInput!) {
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

/** The reference point the runner would use: the explicit one, else min − 0.1·span over the points. */
function liveReference(points: readonly StreamedPoint[], stored: readonly number[]): number[] | null {
  if (stored.length > 0) return [...stored];
  if (points.length === 0) return null;
  return deriveReference(
    points.map((p) => p.rewards),
    { rule: "min-minus-margin", margin: 0.1 },
  );
}

function liveMetrics(points: readonly StreamedPoint[], z: readonly number[] | null): { hv: number | null; mip: number | null; front: number[] } {
  if (points.length === 0) return { hv: null, mip: null, front: [] };
  const rewards = points.map((p) => p.rewards);
  let front: number[] = [];
  let hv: number | null = null;
  let mip: number | null = null;
  try {
    front = paretoFrontIndices(rewards);
    hv = z ? hypervolume(rewards, z) : null;
    mip = meanInnerProduct(points.map((p) => ({ alpha: p.alpha, rewards: p.rewards })));
  } catch {
    // A malformed point (should not happen: the api validated it) leaves the metrics unknown.
  }
  return { hv, mip, front };
}

export default function EvaluationDetail({ params }: { params: Record<string, string> }) {
  const id = params.id ?? "";
  const { data, refetch } = useQuery(EvaluationQuery, { id });
  const { points: live, status: stream } = useEvaluationPoints(id);
  const [cancel] = useMutation(CancelEvaluation);
  const [overlay, setOverlay] = useState<string[]>([]);
  const [axes, setAxes] = useState<[number, number]>([0, 1]);
  const plotRef = useRef<ParetoPlotHandle>(null);
  const ev = data?.node?.__typename === "Evaluation" ? data.node : null;
  const adapters = data?.adapters.edges.map((e) => e.node) ?? [];
  const adapter = adapters.find((a) => a.id === ev?.adapterId);
  const names = adapter?.dimensionNames ?? [];
  const finished = ev ? ev.status === "SUCCEEDED" || ev.status === "FAILED" || ev.status === "CANCELLED" : false;

  // When the stream ends, the stored row has the final front, HV and MIP.
  const ended = stream.state === "done" || stream.state === "failed";
  useEffect(() => {
    if (ended) void refetch();
  }, [ended, refetch]);

  const points: StreamedPoint[] = useMemo(() => {
    const byIndex = new Map<number, StreamedPoint>();
    for (const p of ev?.points ?? []) byIndex.set(p.index, { index: p.index, alpha: [...p.alpha], rewards: [...p.rewards] });
    for (const p of live) byIndex.set(p.index, p);
    return [...byIndex.values()].sort((a, b) => a.index - b.index);
  }, [ev?.points, live]);
  const z = useMemo(() => liveReference(points, ev?.referencePoint ?? []), [points, ev?.referencePoint]);
  const metrics = useMemo(() => liveMetrics(points, z), [points, z]);
  const finalFront = ev && ev.status === "SUCCEEDED" ? ev.points.map((p, i) => (p.onFront ? i : -1)).filter((i) => i >= 0) : null;
  const hv = ev?.status === "SUCCEEDED" && ev.hypervolume !== null ? ev.hypervolume : metrics.hv;
  const mip = ev?.status === "SUCCEEDED" && ev.mip !== null ? ev.mip : metrics.mip;
  const k = points[0]?.rewards.length ?? names.length;

  const others = (data?.evaluations.edges.map((e) => e.node) ?? []).filter((o) => o.id !== id && (o.points[0]?.rewards.length ?? k) === k);
  const sets: ParetoSet[] = useMemo(() => {
    const mine: ParetoSet = { label: `${adapter?.name ?? "this"} (${shortId(id)})`, points, front: finalFront ?? metrics.front, referencePoint: z };
    const extra = overlay
      .map((oid) => others.find((o) => o.id === oid))
      .filter((o): o is NonNullable<typeof o> => o !== undefined)
      .map((o) => ({
        label: `${adapters.find((a) => a.id === o.adapterId)?.name ?? "?"} (${shortId(o.id)})`,
        points: o.points,
        front: o.points.map((p, i) => (p.onFront ? i : -1)).filter((i) => i >= 0),
        referencePoint: o.referencePoint.length ? o.referencePoint : null,
      }));
    return [mine, ...extra];
  }, [points, finalFront?.join(","), metrics.front.join(","), z?.join(","), overlay.join(","), others.length]); // eslint-disable-line react-hooks/exhaustive-deps

  if (data && !ev) return <PageTitle title="Evaluation not found">No evaluation with this id is visible to your key.</PageTitle>;
  if (!ev) return <p aria-busy="true">Loading…</p>;
  const expected = k === 2 ? Math.round(1 / ev.gridStep) + 1 : null;
  const axisNames: [string, string] = [names[axes[0]] ?? `objective ${axes[0]}`, names[axes[1]] ?? `objective ${axes[1]}`];

  const downloadReport = () => {
    const body = { evaluation: { ...ev, points }, adapter: adapter ?? null, live: { hypervolume: metrics.hv, mip: metrics.mip, referencePoint: z } };
    downloadBlob(new Blob([JSON.stringify(body, null, 2)], { type: "application/json" }), `evaluation-${shortId(ev.id)}.json`);
  };
  const downloadPlot = async () => {
    const png = await plotRef.current?.toPng();
    if (png) downloadBlob(png, `pareto-${shortId(ev.id)}.png`);
  };

  return (
    <>
      <PageTitle title={`Evaluation ${shortId(ev.id)}`}>
        <Link to="/evaluations">All evaluations</Link> · adapter {adapter?.name ?? shortId(ev.adapterId)} · grid step {ev.gridStep} · {ev.promptCount} prompts from {ev.split} ·{" "}
        <Link to={`/jobs/${encodeURIComponent(ev.jobId)}`}>job</Link>
      </PageTitle>
      <Section
        title="Pareto front"
        actions={
          <>
            {!finished ? (
              <button type="button" className="danger" onClick={() => void cancel({ input: { jobId: ev.jobId } }).then(() => refetch())}>
                Cancel
              </button>
            ) : null}
            {finished ? (
              <DownloadButton path={ev.downloadUrl} fileName={`evaluation-${shortId(ev.id)}.report.json`} label="Download report JSON" />
            ) : (
              <button type="button" onClick={downloadReport}>
                Download points so far (JSON)
              </button>
            )}
            <DownloadButton path={ev.plotDownloadUrl} fileName={`evaluation-${shortId(ev.id)}.plot.svg`} label="Download plot SVG" />
            <button type="button" onClick={() => void downloadPlot()}>
              Download this plot (PNG)
            </button>
          </>
        }
      >
        <div className="stats">
          <div className="stat">
            <div className="value" data-testid="point-count">
              {points.length}
              {expected ? ` / ${expected}` : ""}
            </div>
            <div className="label">points</div>
          </div>
          <div className="stat">
            <div className="value" data-testid="hypervolume">
              {formatNumber(hv)}
            </div>
            <div className="label">hypervolume {ev.status === "SUCCEEDED" ? "(final)" : "(live)"}</div>
          </div>
          <div className="stat">
            <div className="value" data-testid="mip">
              {formatNumber(mip)}
            </div>
            <div className="label">MIP {ev.status === "SUCCEEDED" ? "(final)" : "(live)"}</div>
          </div>
          <div className="stat">
            <div className="value">
              <StatusBadge status={ev.status} />
            </div>
            <div className="label">{stream.state === "live" ? "streaming points" : stream.state === "failed" ? `${stream.code}` : "stream ended"}</div>
          </div>
        </div>
        {ev.job && !finished ? <ProgressBar value={ev.job.progress} label="Evaluation progress" /> : null}
        {ev.job?.error ? <p className="form-error">{ev.job.error}</p> : null}
        {k > 2 ? (
          <div className="row">
            <SelectField label="x axis" value={String(axes[0])} onChange={(v) => setAxes([Number(v), axes[1]])} options={names.map((n, i) => ({ value: String(i), label: n }))} />
            <SelectField label="y axis" value={String(axes[1])} onChange={(v) => setAxes([axes[0], Number(v)])} options={names.map((n, i) => ({ value: String(i), label: n }))} />
          </div>
        ) : null}
        {k >= 2 ? <ParetoPlot ref={plotRef} sets={sets} axes={axes} axisNames={axisNames} testId="pareto-plot" /> : <p className="muted">One objective: no front to plot.</p>}
        <p className="muted">
          Reference point {z ? formatAlpha(z) : "—"}
          {ev.status === "SUCCEEDED" ? " (the one the runner used)" : ev.referencePoint.length ? " (given)" : " (live: min − 0.1 · span of the points so far)"}; the front is drawn as the boundary of the region it dominates.
          HV and MIP are computed live with the runner's own Pareto code as points arrive, then replaced by the stored result.
        </p>
        {others.length > 0 ? (
          <fieldset>
            <legend>Overlay (up to 2 more)</legend>
            <div className="row">
              {others.slice(0, 12).map((o) => (
                <CheckboxField
                  key={o.id}
                  label={`${adapters.find((a) => a.id === o.adapterId)?.name ?? "?"} ${shortId(o.id)} (${o.status}, HV ${formatNumber(o.hypervolume)})`}
                  checked={overlay.includes(o.id)}
                  onChange={(on) => setOverlay((list) => (on ? [...list, o.id].slice(-2) : list.filter((x) => x !== o.id)))}
                />
              ))}
            </div>
          </fieldset>
        ) : null}
      </Section>
      <Section title="Points">
        <table data-testid="points-table">
          <thead>
            <tr>
              <th className="num">Grid index</th>
              <th>α</th>
              {names.map((n) => (
                <th className="num" key={n}>
                  reward {n}
                </th>
              ))}
              <th>On front</th>
            </tr>
          </thead>
          <tbody>
            {points.map((p, i) => (
              <tr key={p.index}>
                <td className="num">{p.index}</td>
                <td className="mono">{formatAlpha(p.alpha)}</td>
                {p.rewards.map((r, j) => (
                  <td className="num" key={j}>
                    {formatNumber(r, 4)}
                  </td>
                ))}
                <td>{(finalFront ?? metrics.front).includes(i) ? "yes" : ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <p className="muted">Created {formatTime(ev.createdAt)}.</p>
      </Section>
    </>
  );
}
