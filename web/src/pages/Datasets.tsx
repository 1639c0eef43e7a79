/** @module web/pages/Datasets
 *  Datasets of preference pairs: the list, and a form to create one (format, label → dimension mapping, split
 *  ratios). Uploading happens on the dataset's page (drag and drop, streamed, with a progress bar). */
import { useState, type FormEvent } from "react";
import { graphql } from "../gql/index.ts";
import type { DatasetFormat } from "../gql/graphql.ts";
import { useMutation, useQuery } from "../lib/hooks.ts";
import { Link, navigate } from "../lib/router.tsx";
import { NO_ERRORS, fieldError, payloadErrors, type FormErrors } from "../lib/form-errors.ts";
import { dimensionName, useDimensions } from "../lib/dimensions.ts";
import { formatBytes, formatTime } from "../lib/format.ts";
import { FormError, SelectField, TextField, numberOrUndefined } from "../components/forms.tsx";
import { Empty, PageTitle, Section, StatusBadge } from "../components/ui.tsx";

const DatasetsQuery = graphql(`
  query Datasets($pageSize: Int = 100) {
    datasets(first: $pageSize) {
      edges {
        node {
          ...DatasetFields
          validationReport {
            accepted
            rejected
          }
        }
      }
    }
  }
`);

const CreateDataset = graphql(`
  mutation CreateDataset($input: CreateDatasetInput!) {
    createDataset(input: $input) {
      __typename
      ... on CreateDatasetSuccess {
        dataset {
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
    }
  }
`);

/** The labels each format carries (docs/api.md, Datasets). */
export const FORMAT_LABELS: Record<DatasetFormat, readonly string[]> = {
  HH_RLHF: ["preferred"],
  GENERIC: ["preferred"],
  PKU_SAFERLHF: ["better", "safer"],
};

const FORMATS: { value: DatasetFormat; label: string }[] = [
  { value: "HH_RLHF", label: "HH-RLHF ({chosen, rejected} dialogues)" },
  { value: "PKU_SAFERLHF", label: "PKU-SafeRLHF (better / safer ids)" },
  { value: "GENERIC", label: "Generic ({prompt, chosen, rejected})" },
];

export default function Datasets() {
  const { data } = useQuery(DatasetsQuery, {}, { pollMs: 10_000 });
  const { dimensions } = useDimensions();
  const datasets = data?.datasets.edges.map((e) => e.node) ?? [];
  return (
    <>
      <PageTitle title="Datasets">
        Preference pairs in one format, with each of the format's labels mapped to a dimension. Uploads are validated
        completely before anything is stored; a rejected upload names every bad line.
      </PageTitle>
      <CreateDatasetForm />
      <Section title="Datasets">
        {!data ? (
          <p aria-busy="true">Loading…</p>
        ) : datasets.length === 0 ? (
          <Empty>No datasets yet.</Empty>
        ) : (
          <table data-testid="datasets-table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Format</th>
                <th>Status</th>
                <th>Labels → dimensions</th>
                <th className="num">Records</th>
                <th>Splits (train / val / test)</th>
                <th className="num">Size</th>
                <th>Created</th>
              </tr>
            </thead>
            <tbody>
              {datasets.map((d) => (
                <tr key={d.id}>
                  <td>
                    <Link to={`/datasets/${encodeURIComponent(d.id)}`}>{d.name}</Link>
                  </td>
                  <td>{d.format}</td>
                  <td>
                    <StatusBadge status={d.status} />
                    {d.status === "REJECTED" && d.validationReport ? <span className="muted"> {d.validationReport.rejected} bad lines</span> : null}
                  </td>
                  <td>{d.dimensionMap.map((m) => `${m.label} → ${dimensionName(dimensions, m.dimensionId)}`).join(", ")}</td>
                  <td className="num">{d.recordCount}</td>
                  <td>{d.splitCounts ? `${d.splitCounts.train} / ${d.splitCounts.validation} / ${d.splitCounts.test}` : "—"}</td>
                  <td className="num">{formatBytes(d.byteSize)}</td>
                  <td>{formatTime(d.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
    </>
  );
}

function CreateDatasetForm() {
  const { dimensions } = useDimensions();
  const [name, setName] = useState("");
  const [format, setFormat] = useState<DatasetFormat>("HH_RLHF");
  const [labels, setLabels] = useState<Record<string, string>>({});
  const [ratios, setRatios] = useState({ train: "", validation: "", test: "" });
  const [errors, setErrors] = useState<FormErrors>(NO_ERRORS);
  const [create, { running }] = useMutation(CreateDataset);
  const formatLabels = FORMAT_LABELS[format];
  const dimOptions = (dimensions ?? []).map((d) => ({ value: d.id, label: `${d.name} (α[${d.position}])` }));

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const anyRatio = ratios.train || ratios.validation || ratios.test;
    const result = await create({
      input: {
        name: name.trim(),
        format,
        labels: formatLabels.map((label) => ({ label, dimensionId: labels[label] ?? "" })),
        splitRatios: anyRatio
          ? { train: numberOrUndefined(ratios.train) ?? 0, validation: numberOrUndefined(ratios.validation) ?? 0, test: numberOrUndefined(ratios.test) ?? 0 }
          : undefined,
      },
    });
    if (!result) return;
    const p = result.createDataset;
    if (p.__typename === "CreateDatasetSuccess") navigate(`/datasets/${encodeURIComponent(p.dataset.id)}`);
    else setErrors(payloadErrors(p));
  };

  return (
    <Section title="New dataset">
      {dimensions && dimensions.length === 0 ? (
        <p className="notice">
          Create <Link to="/dimensions">dimensions</Link> first: every label of a dataset trains one.
        </p>
      ) : null}
      <form onSubmit={(e) => void submit(e)} aria-label="New dataset">
        <div className="form-grid">
          <TextField label="Dataset name" value={name} onChange={setName} error={fieldError(errors, "input.name")} required />
          <SelectField label="Format" value={format} onChange={setFormat} options={FORMATS} error={fieldError(errors, "input.format")} />
          {formatLabels.map((label, i) => (
            <SelectField
              key={`${format}-${label}`}
              label={`Label “${label}” trains`}
              value={labels[label] ?? ""}
              onChange={(v) => setLabels((l) => ({ ...l, [label]: v }))}
              options={dimOptions}
              error={fieldError(errors, `input.labels[${i}].dimensionId`) ?? fieldError(errors, `input.labels[${i}].label`) ?? (i === 0 ? fieldError(errors, "input.labels") : undefined)}
            />
          ))}
        </div>
        <fieldset className="form-grid" style={{ marginTop: "0.75rem" }}>
          <legend>Split ratios (empty: the API default 0.9 / 0.05 / 0.05)</legend>
          <TextField label="Train share" type="number" value={ratios.train} onChange={(v) => setRatios((r) => ({ ...r, train: v }))} error={fieldError(errors, "input.splitRatios.train")} placeholder="0.9" />
          <TextField label="Validation share" type="number" value={ratios.validation} onChange={(v) => setRatios((r) => ({ ...r, validation: v }))} error={fieldError(errors, "input.splitRatios.validation")} placeholder="0.05" />
          <TextField label="Test share" type="number" value={ratios.test} onChange={(v) => setRatios((r) => ({ ...r, test: v }))} error={fieldError(errors, "input.splitRatios.test") ?? fieldError(errors, "input.splitRatios")} placeholder="0.05" />
        </fieldset>
        <FormError message={errors.form} />
        <div className="form-actions">
          <button type="submit" className="primary" disabled={running}>
            Create dataset
          </button>
        </div>
      </form>
    </Section>
  );
}
