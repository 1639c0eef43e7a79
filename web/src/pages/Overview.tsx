/** @module web/pages/Overview — the tenant's dashboard: quotas, counts and the latest jobs. */
import { useEffect } from "react";
import { graphql } from "../gql/index.ts";
import { useQuery } from "../lib/hooks.ts";
import { Link } from "../lib/router.tsx";
import { formatBytes, formatTime, shortId } from "../lib/format.ts";
import { Empty, PageTitle, ProgressBar, Section, StatusBadge } from "../components/ui.tsx";

const OverviewQuery = graphql(`
  query Overview($pageSize: Int = 100, $recentSize: Int = 8) {
    viewer {
      tenant {
        name
        maxConcurrentJobs
        maxDatasetBytes
        maxModelBytes
        mutationsPerMinute
      }
    }
    dimensions {
      id
      name
      position
    }
    datasets(first: $pageSize) {
      edges {
        node {
          id
          status
          byteSize
        }
      }
    }
    models(first: $pageSize) {
      edges {
        node {
          id
          kind
          storedBytes
        }
      }
    }
    adapters(first: $pageSize) {
      edges {
        node {
          id
        }
      }
    }
    jobs(first: $recentSize) {
      edges {
        node {
          id
          kind
          status
          progress
          createdAt
        }
      }
    }
  }
`);

export default function Overview() {
  const { data } = useQuery(OverviewQuery, {}, { pollMs: 5000 });
  useEffect(() => {
    if (data && performance.getEntriesByName("parm:dashboard-interactive").length === 0) performance.mark("parm:dashboard-interactive");
  }, [data]);
  const tenant = data?.viewer.tenant;
  const datasets = data?.datasets.edges.map((e) => e.node) ?? [];
  const models = data?.models.edges.map((e) => e.node) ?? [];
  const jobs = data?.jobs.edges.map((e) => e.node) ?? [];
  const active = jobs.filter((j) => j.status === "QUEUED" || j.status === "RUNNING").length;
  const datasetBytes = datasets.reduce((a, d) => a + d.byteSize, 0);
  const modelBytes = models.reduce((a, m) => a + (m.storedBytes ?? 0), 0);
  return (
    <>
      <PageTitle title="Overview">Tenant {tenant?.name ?? "…"}: what it holds, its quotas, and the latest jobs.</PageTitle>
      <div className="stats" data-testid="overview-stats" aria-busy={!data}>
        <Stat label="Dimensions" value={data ? String(data.dimensions.length) : "…"} to="/dimensions" />
        <Stat label="Datasets ready" value={data ? String(datasets.filter((d) => d.status === "READY").length) : "…"} to="/datasets" />
        <Stat label="Models" value={data ? String(models.length) : "…"} to="/models" />
        <Stat label="Adapters" value={data ? String(data.adapters.edges.length) : "…"} to="/training" />
        <Stat label="Active jobs" value={data && tenant ? `${active} / ${tenant.maxConcurrentJobs}` : "…"} to="/training" />
      </div>
      {tenant ? (
        <Section title="Storage quotas">
          <p>Datasets: {formatBytes(datasetBytes)} of {formatBytes(tenant.maxDatasetBytes)}</p>
          <ProgressBar value={(100 * datasetBytes) / Math.max(1, tenant.maxDatasetBytes)} label="Dataset storage used" />
          <p>Uploaded models: {formatBytes(modelBytes)} of {formatBytes(tenant.maxModelBytes)}</p>
          <ProgressBar value={(100 * modelBytes) / Math.max(1, tenant.maxModelBytes)} label="Model storage used" />
          <p className="muted">Mutations: {tenant.mutationsPerMinute} per minute.</p>
        </Section>
      ) : null}
      <Section title="Latest jobs" actions={<Link to="/training">All jobs</Link>}>
        {jobs.length === 0 ? (
          <Empty>No jobs yet. Upload a dataset, register a model, then train.</Empty>
        ) : (
          <table>
            <thead>
              <tr>
                <th>Job</th>
                <th>Kind</th>
                <th>Status</th>
                <th className="num">Progress</th>
                <th>Created</th>
              </tr>
            </thead>
            <tbody>
              {jobs.map((j) => (
                <tr key={j.id}>
                  <td>
                    <Link to={`/jobs/${encodeURIComponent(j.id)}`}>{shortId(j.id)}</Link>
                  </td>
                  <td>{j.kind}</td>
                  <td>
                    <StatusBadge status={j.status} />
                  </td>
                  <td className="num">{j.progress.toFixed(0)} %</td>
                  <td>{formatTime(j.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
    </>
  );
}

function Stat({ label, value, to }: { label: string; value: string; to: string }) {
  return (
    <Link to={to} className="stat">
      <div className="value">{value}</div>
      <div className="label">{label}</div>
    </Link>
  );
}
