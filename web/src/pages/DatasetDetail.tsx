/** @module web/pages/DatasetDetail
 *  One dataset: its mapping, splits and status; the upload (drag and drop or pick a file, streamed to
 *  `POST /v1/datasets/:id/records` with a progress bar), and the validation report of the last upload. */
import { useState } from "react";
import { graphql } from "../gql/index.ts";
import type { ReportFieldsFragment } from "../gql/graphql.ts";
import { useQuery } from "../lib/hooks.ts";
import { Link } from "../lib/router.tsx";
import { reportError } from "../lib/graphql.ts";
import { upload, type UploadProgress } from "../lib/upload.ts";
import { dimensionName, useDimensions } from "../lib/dimensions.ts";
import { formatBytes, formatTime } from "../lib/format.ts";
import { DropZone, PageTitle, ProgressBar, Section, StatusBadge } from "../components/ui.tsx";
import { ValidationReport } from "../components/ValidationReport.tsx";
import { DownloadButton } from "../components/DownloadButton.tsx";

const DatasetQuery = graphql(`
  query Dataset($id: ID!) {
    node(id: $id) {
      __typename
      ... on Dataset {
        ...DatasetFields
        validationReport {
          ...ReportFields
        }
      }
    }
  }
`);

/** `POST /v1/datasets/:id/records` answers (docs/api.md). */
interface UploadAccepted {
  dataset: { id: string; status: string; recordCount: number; byteSize: number };
  report: ReportFieldsFragment;
}
interface UploadRefused {
  type: string;
  message: string;
  report?: ReportFieldsFragment;
  field?: string;
}

export default function DatasetDetail({ params }: { params: Record<string, string> }) {
  const id = params.id ?? "";
  const { data, refetch } = useQuery(DatasetQuery, { id });
  const { dimensions } = useDimensions();
  const [progress, setProgress] = useState<UploadProgress | null>(null);
  const [fileName, setFileName] = useState<string | null>(null);
  const [refused, setRefused] = useState<UploadRefused | null>(null);
  const [uploading, setUploading] = useState(false);
  const node = data?.node;
  const dataset = node?.__typename === "Dataset" ? node : null;

  const start = async (file: File) => {
    setFileName(file.name);
    setRefused(null);
    setUploading(true);
    try {
      const outcome = await upload<UploadAccepted, UploadRefused>(`/v1/datasets/${encodeURIComponent(id)}/records`, file, setProgress).done;
      if (!outcome.ok) setRefused(outcome.error);
      await refetch();
    } catch (error) {
      reportError(error);
    } finally {
      setUploading(false);
    }
  };

  if (data && !dataset) return <PageTitle title="Dataset not found">No dataset with this id is visible to your key.</PageTitle>;
  if (!dataset) return <p aria-busy="true">Loading…</p>;
  const canUpload = dataset.status !== "READY";
  const report = refused?.report ?? dataset.validationReport;
  return (
    <>
      <PageTitle title={`Dataset ${dataset.name}`}>
        <Link to="/datasets">All datasets</Link>
      </PageTitle>
      <Section title="Dataset" actions={<DownloadButton path={dataset.downloadUrl} fileName={`${dataset.name}.records.jsonl`} label="Download records" />}>
        <dl className="kv">
          <dt>Status</dt>
          <dd>
            <StatusBadge status={dataset.status} />
          </dd>
          <dt>Format</dt>
          <dd>{dataset.format}</dd>
          <dt>Labels</dt>
          <dd>{dataset.dimensionMap.map((m) => `${m.label} → ${dimensionName(dimensions, m.dimensionId)}`).join(", ")}</dd>
          <dt>Split ratios</dt>
          <dd>
            {dataset.splitRatios.train} / {dataset.splitRatios.validation} / {dataset.splitRatios.test}
          </dd>
          <dt>Records</dt>
          <dd data-testid="record-count">
            {dataset.recordCount}
            {dataset.splitCounts ? ` (train ${dataset.splitCounts.train}, validation ${dataset.splitCounts.validation}, test ${dataset.splitCounts.test})` : ""}
          </dd>
          <dt>Size</dt>
          <dd>{formatBytes(dataset.byteSize)}</dd>
          <dt>sha256</dt>
          <dd className="mono">{dataset.sha256 ?? "—"}</dd>
          <dt>Updated</dt>
          <dd>{formatTime(dataset.updatedAt)}</dd>
        </dl>
      </Section>
      {canUpload || progress ? (
        <Section title="Upload">
          {canUpload ? (
            <>
              <p className="muted">
                JSON Lines or gzip-compressed JSON Lines (detected by content), streamed to the api and validated as it arrives. A rejected upload stores nothing; upload again.
              </p>
              <DropZone label={`Upload records into ${dataset.name}`} accept=".jsonl,.json,.gz,.jsonl.gz" onFile={(f) => void start(f)} disabled={uploading} />
            </>
          ) : (
            <p className="muted">Accepted: the dataset is READY and takes no further upload.</p>
          )}
          {progress ? (
            <div style={{ marginTop: "0.75rem" }}>
              <p>
                {fileName}: {formatBytes(progress.loaded)} of {formatBytes(progress.total)} sent{uploading && progress.loaded >= progress.total ? " — validating…" : ""}
              </p>
              <ProgressBar value={progress.total ? (100 * progress.loaded) / progress.total : null} label="Upload progress" />
            </div>
          ) : null}
          {refused && !refused.report ? (
            <p className="form-error" role="alert">
              {refused.type}: {refused.message}
            </p>
          ) : null}
        </Section>
      ) : null}
      {report ? (
        <Section title="Validation report">
          <ValidationReport report={report} rejectedBecause={dataset.status === "REJECTED" ? (refused?.message ?? `${report.rejected} of ${report.totalLines} lines were rejected`) : null} />
        </Section>
      ) : null}
    </>
  );
}
