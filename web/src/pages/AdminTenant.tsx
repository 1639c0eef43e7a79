/** @module web/pages/AdminTenant — platform admin: one tenant's quotas (edit), suspension, keys and dimensions. */
import { useEffect, useState, type FormEvent } from "react";
import { graphql } from "../gql/index.ts";
import { useMutation, useQuery } from "../lib/hooks.ts";
import { Link } from "../lib/router.tsx";
import { NO_ERRORS, fieldError, payloadErrors, type FormErrors } from "../lib/form-errors.ts";
import { formatTime } from "../lib/format.ts";
import { FormError, TextField, intError, numberOrUndefined } from "../components/forms.tsx";
import { KeysPanel } from "../components/KeysPanel.tsx";
import { PageTitle, Section } from "../components/ui.tsx";

const TenantQuery = graphql(`
  query Tenant($id: ID!) {
    node(id: $id) {
      __typename
      ... on Tenant {
        ...TenantFields
      }
    }
    dimensions(tenantId: $id) {
      id
      name
      position
      betaR
    }
  }
`);

const UpdateTenant = graphql(`
  mutation UpdateTenant($input: UpdateTenantInput!) {
    updateTenant(input: $input) {
      __typename
      ... on UpdateTenantSuccess {
        tenant {
          ...TenantFields
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

const SuspendTenant = graphql(`
  mutation SuspendTenant($input: SuspendTenantInput!) {
    suspendTenant(input: $input) {
      __typename
      ... on SuspendTenantSuccess {
        tenant {
          id
          suspendedAt
        }
        cancelledJobIds
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

const GiB = 1024 ** 3;

export default function AdminTenant({ params }: { params: Record<string, string> }) {
  const id = params.id ?? "";
  const { data, refetch } = useQuery(TenantQuery, { id });
  const tenant = data?.node?.__typename === "Tenant" ? data.node : null;
  const [form, setForm] = useState({ maxConcurrentJobs: "", maxDatasetGiB: "", maxModelGiB: "", mutationsPerMinute: "" });
  const [errors, setErrors] = useState<FormErrors>(NO_ERRORS);
  const [saved, setSaved] = useState(false);
  const [update, { running }] = useMutation(UpdateTenant);
  const [suspend, { running: suspending }] = useMutation(SuspendTenant);
  const [suspendNote, setSuspendNote] = useState<string | null>(null);
  useEffect(() => {
    if (!tenant) return;
    setForm({
      maxConcurrentJobs: String(tenant.maxConcurrentJobs),
      maxDatasetGiB: String(Number((tenant.maxDatasetBytes / GiB).toFixed(3))),
      maxModelGiB: String(Number((tenant.maxModelBytes / GiB).toFixed(3))),
      mutationsPerMinute: String(tenant.mutationsPerMinute),
    });
  }, [tenant?.id, tenant?.maxConcurrentJobs, tenant?.maxDatasetBytes, tenant?.maxModelBytes, tenant?.mutationsPerMinute]); // eslint-disable-line react-hooks/exhaustive-deps
  const set = (key: keyof typeof form) => (value: string) => setForm((f) => ({ ...f, [key]: value }));
  const f = (key: string) => fieldError(errors, `input.${key}`);

  if (data && !tenant) return <PageTitle title="Tenant not found">No tenant with this id.</PageTitle>;
  if (!tenant) return <p aria-busy="true">Loading…</p>;

  const save = async (e: FormEvent) => {
    e.preventDefault();
    setSaved(false);
    const local: Record<string, string> = {};
    for (const k of ["maxConcurrentJobs", "mutationsPerMinute"] as const) {
      const err = intError(form[k]);
      if (err) local[`input.${k}`] = err;
    }
    if (Object.keys(local).length) return setErrors({ fields: local, form: null });
    const gib = (t: string) => {
      const n = numberOrUndefined(t);
      return n === undefined ? undefined : Math.round(n * GiB);
    };
    const result = await update({
      input: {
        id: tenant.id,
        maxConcurrentJobs: numberOrUndefined(form.maxConcurrentJobs),
        maxDatasetBytes: gib(form.maxDatasetGiB),
        maxModelBytes: gib(form.maxModelGiB),
        mutationsPerMinute: numberOrUndefined(form.mutationsPerMinute),
      },
    });
    if (!result) return;
    const p = result.updateTenant;
    if (p.__typename === "UpdateTenantSuccess") {
      setErrors(NO_ERRORS);
      setSaved(true);
      void refetch();
    } else setErrors(payloadErrors(p));
  };
  const toggleSuspend = async () => {
    const suspended = !tenant.suspendedAt;
    if (suspended && !window.confirm(`Suspend ${tenant.name}? Its keys are refused and its jobs cancelled until it is resumed.`)) return;
    const result = await suspend({ input: { id: tenant.id, suspended } });
    if (!result) return;
    const p = result.suspendTenant;
    if (p.__typename === "SuspendTenantSuccess") {
      setSuspendNote(suspended ? `Suspended; ${p.cancelledJobIds.length} job(s) cancelled.` : "Resumed.");
      void refetch();
    } else setSuspendNote(payloadErrors(p).form ?? "refused");
  };

  return (
    <>
      <PageTitle title={`Tenant ${tenant.name}`}>
        <Link to="/admin">All tenants</Link> · created {formatTime(tenant.createdAt)}
      </PageTitle>
      <Section
        title="Quotas"
        actions={
          <button type="button" className={tenant.suspendedAt ? "" : "danger"} onClick={() => void toggleSuspend()} disabled={suspending}>
            {tenant.suspendedAt ? "Resume tenant" : "Suspend tenant"}
          </button>
        }
      >
        {tenant.suspendedAt ? <p className="notice">Suspended since {formatTime(tenant.suspendedAt)}: its keys are refused.</p> : null}
        {suspendNote ? <p role="status">{suspendNote}</p> : null}
        <form onSubmit={(e) => void save(e)} aria-label="Tenant quotas" noValidate>
          <div className="form-grid">
            <TextField label="Max concurrent jobs" type="number" value={form.maxConcurrentJobs} onChange={set("maxConcurrentJobs")} error={f("maxConcurrentJobs")} />
            <TextField label="Dataset storage (GiB)" type="number" value={form.maxDatasetGiB} onChange={set("maxDatasetGiB")} error={f("maxDatasetBytes")} />
            <TextField label="Model storage (GiB)" type="number" value={form.maxModelGiB} onChange={set("maxModelGiB")} error={f("maxModelBytes")} />
            <TextField label="Mutations per minute" type="number" value={form.mutationsPerMinute} onChange={set("mutationsPerMinute")} error={f("mutationsPerMinute")} />
          </div>
          <FormError message={errors.form} />
          <div className="form-actions">
            <button type="submit" className="primary" disabled={running}>
              Save quotas
            </button>
            {saved ? <span role="status">Saved; applies from the tenant's next request.</span> : null}
          </div>
        </form>
      </Section>
      <KeysPanel tenantId={tenant.id} />
      <Section title="Dimensions">
        {data?.dimensions.length ? (
          <ul>
            {data.dimensions.map((d) => (
              <li key={d.id}>
                α[{d.position}] {d.name} (β_r {d.betaR})
              </li>
            ))}
          </ul>
        ) : (
          <p className="muted">None.</p>
        )}
      </Section>
    </>
  );
}
