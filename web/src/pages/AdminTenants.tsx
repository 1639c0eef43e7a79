/** @module web/pages/AdminTenants
 *  Platform admin: every tenant with its quotas and state; create a tenant (its first TENANT_ADMIN key's secret
 *  is shown once, with a copy button). A tenant's page edits quotas, suspends or resumes it, and manages its keys. */
import { useState, type FormEvent } from "react";
import { graphql } from "../gql/index.ts";
import { useMutation, useQuery } from "../lib/hooks.ts";
import { Link } from "../lib/router.tsx";
import { NO_ERRORS, fieldError, payloadErrors, type FormErrors } from "../lib/form-errors.ts";
import { formatBytes, formatTime } from "../lib/format.ts";
import { FormError, TextField, intError, numberOrUndefined } from "../components/forms.tsx";
import { CopyButton, Empty, PageTitle, Section } from "../components/ui.tsx";

const TenantsQuery = graphql(`
  query Tenants($pageSize: Int = 100) {
    tenants(first: $pageSize) {
      edges {
        node {
          ...TenantFields
        }
      }
    }
  }
`);

export const TenantFields = graphql(`
  fragment TenantFields on Tenant {
    id
    name
    maxConcurrentJobs
    maxDatasetBytes
    maxModelBytes
    mutationsPerMinute
    suspendedAt
    createdAt
  }
`);

const CreateTenant = graphql(`
  mutation CreateTenant($input: CreateTenantInput!) {
    createTenant(input: $input) {
      __typename
      ... on CreateTenantSuccess {
        tenant {
          id
          name
        }
        apiKey {
          id
          prefix
        }
        secret
      }
      ... on ValidationError {
        field
        message
      }
    }
  }
`);

export default function AdminTenants() {
  const { data, refetch } = useQuery(TenantsQuery, {});
  const tenants = data?.tenants.edges.map((e) => e.node) ?? [];
  return (
    <>
      <PageTitle title="Tenants">Every tenant of the platform, its quotas and keys. Open a tenant to edit its quotas, suspend it or manage its keys.</PageTitle>
      <CreateTenantForm onCreated={() => void refetch()} />
      <Section title="Tenants">
        {!data ? (
          <p aria-busy="true">Loading…</p>
        ) : tenants.length === 0 ? (
          <Empty>No tenants yet.</Empty>
        ) : (
          <table data-testid="tenants-table">
            <thead>
              <tr>
                <th>Name</th>
                <th className="num">Concurrent jobs</th>
                <th className="num">Dataset bytes</th>
                <th className="num">Model bytes</th>
                <th className="num">Mutations/min</th>
                <th>State</th>
                <th>Created</th>
              </tr>
            </thead>
            <tbody>
              {tenants.map((t) => (
                <tr key={t.id}>
                  <td>
                    <Link to={`/admin/tenants/${encodeURIComponent(t.id)}`}>{t.name}</Link>
                  </td>
                  <td className="num">{t.maxConcurrentJobs}</td>
                  <td className="num">{formatBytes(t.maxDatasetBytes)}</td>
                  <td className="num">{formatBytes(t.maxModelBytes)}</td>
                  <td className="num">{t.mutationsPerMinute}</td>
                  <td>{t.suspendedAt ? <span className="badge tone-warn">suspended {formatTime(t.suspendedAt)}</span> : <span className="badge tone-good">active</span>}</td>
                  <td>{formatTime(t.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
    </>
  );
}

const GiB = 1024 ** 3;

function CreateTenantForm({ onCreated }: { onCreated(): void }) {
  const [form, setForm] = useState({ name: "", adminKeyName: "", maxConcurrentJobs: "", maxDatasetGiB: "", maxModelGiB: "", mutationsPerMinute: "" });
  const [errors, setErrors] = useState<FormErrors>(NO_ERRORS);
  const [created, setCreated] = useState<{ name: string; prefix: string; secret: string } | null>(null);
  const [create, { running }] = useMutation(CreateTenant);
  const set = (key: keyof typeof form) => (value: string) => setForm((f) => ({ ...f, [key]: value }));
  const f = (key: string) => fieldError(errors, `input.${key}`);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
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
    const result = await create({
      input: {
        name: form.name.trim(),
        adminKeyName: form.adminKeyName.trim() || undefined,
        maxConcurrentJobs: numberOrUndefined(form.maxConcurrentJobs),
        maxDatasetBytes: gib(form.maxDatasetGiB),
        maxModelBytes: gib(form.maxModelGiB),
        mutationsPerMinute: numberOrUndefined(form.mutationsPerMinute),
      },
    });
    if (!result) return;
    const p = result.createTenant;
    if (p.__typename === "CreateTenantSuccess") {
      setCreated({ name: p.tenant.name, prefix: p.apiKey.prefix, secret: p.secret });
      setErrors(NO_ERRORS);
      setForm({ name: "", adminKeyName: "", maxConcurrentJobs: "", maxDatasetGiB: "", maxModelGiB: "", mutationsPerMinute: "" });
      onCreated();
    } else setErrors(payloadErrors(p));
  };
  return (
    <Section title="New tenant">
      <form onSubmit={(e) => void submit(e)} aria-label="New tenant" noValidate>
        <div className="form-grid">
          <TextField label="Tenant name" value={form.name} onChange={set("name")} error={f("name")} hint="a-z 0-9 . _ -, starting with a letter or digit" required />
          <TextField label="First key name" value={form.adminKeyName} onChange={set("adminKeyName")} error={f("adminKeyName")} placeholder="admin" />
          <TextField label="Max concurrent jobs" type="number" value={form.maxConcurrentJobs} onChange={set("maxConcurrentJobs")} error={f("maxConcurrentJobs")} placeholder="4" />
          <TextField label="Dataset storage (GiB)" type="number" value={form.maxDatasetGiB} onChange={set("maxDatasetGiB")} error={f("maxDatasetBytes")} placeholder="1" />
          <TextField label="Model storage (GiB)" type="number" value={form.maxModelGiB} onChange={set("maxModelGiB")} error={f("maxModelBytes")} placeholder="4" />
          <TextField label="Mutations per minute" type="number" value={form.mutationsPerMinute} onChange={set("mutationsPerMinute")} error={f("mutationsPerMinute")} placeholder="120" />
        </div>
        <FormError message={errors.form} />
        <div className="form-actions">
          <button type="submit" className="primary" disabled={running}>
            Create tenant
          </button>
        </div>
      </form>
      {created ? (
        <div className="secret" role="status" data-testid="new-secret">
          <span>
            Tenant {created.name} created. Its TENANT_ADMIN key <code>{created.prefix}</code> — copy it now, it is not shown again:
          </span>
          <code data-testid="secret-value">{created.secret}</code>
          <CopyButton text={created.secret} label="Copy key" />
          <button type="button" onClick={() => setCreated(null)}>
            Done
          </button>
        </div>
      ) : null}
    </Section>
  );
}
