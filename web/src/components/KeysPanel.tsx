/** @module web/components/KeysPanel
 *  API keys of one tenant: list (revoked ones on request), create (the secret is shown once, with a copy button)
 *  and revoke. `tenantId` null: the caller's own tenant (a tenant admin); a Tenant id: the platform admin's view. */
import { useState, type FormEvent } from "react";
import { graphql } from "../gql/index.ts";
import type { ApiKeyRole } from "../gql/graphql.ts";
import { useMutation, useQuery } from "../lib/hooks.ts";
import { NO_ERRORS, fieldError, payloadErrors, type FormErrors } from "../lib/form-errors.ts";
import { formatTime } from "../lib/format.ts";
import { CheckboxField, FormError, SelectField, TextField } from "./forms.tsx";
import { CopyButton, Empty, Section } from "./ui.tsx";

const KeysQuery = graphql(`
  query ApiKeys($tenantId: ID, $includeRevoked: Boolean!, $pageSize: Int = 100) {
    apiKeys(first: $pageSize, tenantId: $tenantId, includeRevoked: $includeRevoked) {
      edges {
        node {
          id
          name
          prefix
          role
          createdAt
          lastUsedAt
          revokedAt
        }
      }
    }
  }
`);

const CreateKey = graphql(`
  mutation CreateApiKey($input: CreateApiKeyInput!) {
    createApiKey(input: $input) {
      __typename
      ... on CreateApiKeySuccess {
        apiKey {
          id
          prefix
          role
        }
        secret
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

const RevokeKey = graphql(`
  mutation RevokeApiKey($input: RevokeApiKeyInput!) {
    revokeApiKey(input: $input) {
      __typename
      ... on RevokeApiKeySuccess {
        apiKey {
          id
          revokedAt
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

const ROLES: { value: ApiKeyRole; label: string }[] = [
  { value: "MEMBER", label: "Member (read, run jobs)" },
  { value: "TENANT_ADMIN", label: "Tenant admin (also keys, dimensions)" },
];

export function KeysPanel({ tenantId }: { tenantId: string | null }) {
  const [includeRevoked, setIncludeRevoked] = useState(false);
  const { data, refetch } = useQuery(KeysQuery, { tenantId, includeRevoked });
  const [name, setName] = useState("");
  const [role, setRole] = useState<ApiKeyRole>("MEMBER");
  const [errors, setErrors] = useState<FormErrors>(NO_ERRORS);
  const [secret, setSecret] = useState<{ prefix: string; secret: string } | null>(null);
  const [create, { running }] = useMutation(CreateKey);
  const [revoke] = useMutation(RevokeKey);
  const [rowError, setRowError] = useState<string | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const result = await create({ input: { name: name.trim(), role, tenantId } });
    if (!result) return;
    const p = result.createApiKey;
    if (p.__typename === "CreateApiKeySuccess") {
      setSecret({ prefix: p.apiKey.prefix, secret: p.secret });
      setErrors(NO_ERRORS);
      setName("");
      void refetch();
    } else setErrors(payloadErrors(p));
  };
  const doRevoke = async (id: string, label: string) => {
    if (!window.confirm(`Revoke key ${label}? Requests with it fail from now on.`)) return;
    const result = await revoke({ input: { id } });
    if (!result) return;
    const p = result.revokeApiKey;
    if (p.__typename === "RevokeApiKeySuccess") {
      setRowError(null);
      void refetch();
    } else setRowError(payloadErrors(p).form ?? Object.values(payloadErrors(p).fields)[0] ?? "refused");
  };

  const keys = data?.apiKeys.edges.map((e) => e.node) ?? [];
  return (
    <>
      <Section title="New API key">
        <form onSubmit={(e) => void submit(e)} aria-label="New API key">
          <div className="form-grid">
            <TextField label="Key name" value={name} onChange={setName} error={fieldError(errors, "input.name")} required />
            <SelectField label="Role" value={role} onChange={setRole} options={ROLES} error={fieldError(errors, "input.role")} />
          </div>
          <FormError message={errors.form ?? fieldError(errors, "input.tenantId")} />
          <div className="form-actions">
            <button type="submit" className="primary" disabled={running}>
              Create key
            </button>
          </div>
        </form>
        {secret ? (
          <div className="secret" role="status" data-testid="new-secret">
            <span>
              Key <code>{secret.prefix}</code> — copy it now, it is not shown again:
            </span>
            <code data-testid="secret-value">{secret.secret}</code>
            <CopyButton text={secret.secret} label="Copy key" />
            <button type="button" onClick={() => setSecret(null)}>
              Done
            </button>
          </div>
        ) : null}
      </Section>
      <Section title="Keys" actions={<CheckboxField label="Show revoked" checked={includeRevoked} onChange={setIncludeRevoked} />}>
        <FormError message={rowError} />
        {keys.length === 0 ? (
          <Empty>No keys.</Empty>
        ) : (
          <table data-testid="keys-table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Prefix</th>
                <th>Role</th>
                <th>Created</th>
                <th>Last used</th>
                <th>Status</th>
                <th>Actions</th>
              </tr>
            </thead>
            <tbody>
              {keys.map((k) => (
                <tr key={k.id}>
                  <td>{k.name}</td>
                  <td className="mono">{k.prefix}</td>
                  <td>{k.role}</td>
                  <td>{formatTime(k.createdAt)}</td>
                  <td>{formatTime(k.lastUsedAt)}</td>
                  <td>{k.revokedAt ? `revoked ${formatTime(k.revokedAt)}` : "active"}</td>
                  <td>
                    {k.revokedAt ? null : (
                      <button type="button" className="danger" onClick={() => void doRevoke(k.id, `${k.name} (${k.prefix})`)} aria-label={`Revoke ${k.name}`}>
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
    </>
  );
}
