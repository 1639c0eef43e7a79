/** @module web/components/ValidationReport
 *  A dataset upload's validation report: counts, split and label counts, and the table of issues (line, code,
 *  reason; line 0 = the file as a whole). */
import type { ReportFieldsFragment } from "../gql/graphql.ts";
import { formatBytes } from "../lib/format.ts";

export function ValidationReport({ report, rejectedBecause }: { report: ReportFieldsFragment; rejectedBecause?: string | null }) {
  return (
    <div data-testid="validation-report">
      {rejectedBecause ? (
        <p className="form-error" role="alert" data-testid="rejected-because">
          Rejected: {rejectedBecause}
        </p>
      ) : null}
      <dl className="kv">
        <dt>Lines</dt>
        <dd>
          {report.totalLines} ({report.accepted} accepted, {report.rejected} rejected)
        </dd>
        <dt>Bytes</dt>
        <dd>
          {formatBytes(report.bytes)} decompressed{report.gzip ? ", gzip upload" : ""}
        </dd>
        <dt>Splits</dt>
        <dd>
          train {report.splitCounts.train} · validation {report.splitCounts.validation} · test {report.splitCounts.test}
        </dd>
        {report.labelCounts.map((l) => (
          <FragmentPair key={l.label} term={`Label ${l.label}`} value={`prefers response 0: ${l.preferResponse0} · response 1: ${l.preferResponse1}`} />
        ))}
      </dl>
      {report.countsByCode.length > 0 ? (
        <>
          <h3>Issues by code</h3>
          <table aria-label="Issues by code">
            <thead>
              <tr>
                <th>Code</th>
                <th className="num">Lines</th>
              </tr>
            </thead>
            <tbody>
              {report.countsByCode.map((c) => (
                <tr key={c.code}>
                  <td className="mono">{c.code}</td>
                  <td className="num">{c.count}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      ) : null}
      {report.issues.length > 0 ? (
        <>
          <h3>Issues{report.issuesTruncated ? " (first ones; counts above are exact)" : ""}</h3>
          <table aria-label="Line issues" data-testid="issues-table">
            <thead>
              <tr>
                <th className="num">Line</th>
                <th>Code</th>
                <th>Reason</th>
              </tr>
            </thead>
            <tbody>
              {report.issues.map((i, n) => (
                <tr key={`${i.line}-${i.code}-${n}`}>
                  <td className="num">{i.line === 0 ? "file" : i.line}</td>
                  <td className="mono">{i.code}</td>
                  <td>{i.reason}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      ) : (
        <p className="muted">No line issues.</p>
      )}
    </div>
  );
}

function FragmentPair({ term, value }: { term: string; value: string }) {
  return (
    <>
      <dt>{term}</dt>
      <dd>{value}</dd>
    </>
  );
}
