/** @module web/pages/AdminRunners
 *  Platform admin: the runner fleet, live from the heartbeats (KV `runners`, polled every 2 s): device and
 *  execution provider, threads, free / total slots, loaded models, running jobs, version, last seen. A runner whose
 *  last heartbeat is older than two heartbeat periods is marked stale (runners write every 10 s; KV expires them
 *  after 30 s — contracts/runners.ts RUNNER_HEARTBEAT_TTL_MS). */
import { graphql } from "../gql/index.ts";
import { useQuery } from "../lib/hooks.ts";
import { formatSeconds, formatTime } from "../lib/format.ts";
import { Empty, PageTitle, Section } from "../components/ui.tsx";

const RunnersQuery = graphql(`
  query Runners {
    runners {
      runnerId
      version
      hostname
      device
      deviceName
      threads
      kinds
      totalSlots
      freeSlots
      loadedModels
      runningJobIds
      at
      ageSeconds
    }
  }
`);

/** Two heartbeat periods (TTL 30 s / 3 = 10 s each). */
const STALE_AFTER_SECONDS = 20;

export default function AdminRunners() {
  const { data } = useQuery(RunnersQuery, {}, { pollMs: 2000 });
  const runners = data?.runners ?? [];
  const free = runners.reduce((n, r) => n + r.freeSlots, 0);
  const total = runners.reduce((n, r) => n + r.totalSlots, 0);
  return (
    <>
      <PageTitle title="Runner fleet">
        Runners pulling jobs from the queue, from their latest heartbeats: {runners.length} runner(s), {free} of {total} slot(s) free.
      </PageTitle>
      <Section title="Runners">
        {!data ? (
          <p aria-busy="true">Loading…</p>
        ) : runners.length === 0 ? (
          <Empty>No runner has sent a heartbeat recently (or the api has no NATS connection).</Empty>
        ) : (
          <table data-testid="runners-table">
            <thead>
              <tr>
                <th>Runner</th>
                <th>Device</th>
                <th className="num">Threads</th>
                <th className="num">Slots free / total</th>
                <th>Job kinds</th>
                <th>Loaded models</th>
                <th className="num">Running jobs</th>
                <th>Version</th>
                <th>Last seen</th>
              </tr>
            </thead>
            <tbody>
              {runners.map((r) => {
                const stale = r.ageSeconds > STALE_AFTER_SECONDS;
                return (
                  <tr key={r.runnerId} data-stale={stale}>
                    <td>
                      <div className="mono">{r.runnerId}</div>
                      <div className="muted">{r.hostname}</div>
                    </td>
                    <td>
                      {r.device.toUpperCase()}
                      {r.deviceName ? <div className="muted">{r.deviceName}</div> : null}
                    </td>
                    <td className="num">{r.threads ?? "—"}</td>
                    <td className="num">
                      {r.freeSlots} / {r.totalSlots}
                    </td>
                    <td>{r.kinds.join(", ")}</td>
                    <td title={r.loadedModels.join("\n")}>
                      {r.loadedModels.length === 0 ? "none" : `${r.loadedModels.length} model(s)`}
                      {r.loadedModels.slice(0, 3).map((m) => (
                        <div className="muted mono" key={m}>
                          {m.length > 28 ? `…${m.slice(-27)}` : m}
                        </div>
                      ))}
                    </td>
                    <td className="num">{r.runningJobIds.length}</td>
                    <td className="mono">{r.version}</td>
                    <td>
                      {formatSeconds(r.ageSeconds)} ago {stale ? <span className="badge tone-bad">stale</span> : <span className="badge tone-good">live</span>}
                      <div className="muted">{formatTime(r.at)}</div>
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
