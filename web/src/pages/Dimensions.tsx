/** @module web/pages/Dimensions
 *  The tenant's preference dimensions — the objectives of α — with each one's position in α. Tenant admins
 *  create, edit and delete them (a dimension in use is refused with the objects that use it); members read. */
import { useState, type FormEvent } from "react";
import { graphql } from "../gql/index.ts";
import { inputDefaults } from "../generated/input-defaults.ts";
import { useMutation } from "../lib/hooks.ts";
import { NO_ERRORS, fieldError, payloadErrors, type FormErrors } from "../lib/form-errors.ts";
import { useDimensions, type Dimension } from "../lib/dimensions.ts";
import { FormError, TextField, numberOrUndefined } from "../components/forms.tsx";
import { Empty, PageTitle, Section } from "../components/ui.tsx";
import { useViewer } from "../app/viewer.ts";

const CreateDimension = graphql(`
  mutation CreateDimension($input: CreateDimensionInput!) {
    createDimension(input: $input) {
      __typename
      ... on CreateDimensionSuccess {
        dimension {
          id
          position
        }
      }
      ... on ValidationError {
        field
        message
      }
    }
  }
`);

const UpdateDimension = graphql(`
  mutation UpdateDimension($input: UpdateDimensionInput!) {
    updateDimension(input: $input) {
      __typename
      ... on UpdateDimensionSuccess {
        dimension {
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

const DeleteDimension = graphql(`
  mutation DeleteDimension($input: DeleteDimensionInput!) {
    deleteDimension(input: $input) {
      __typename
      ... on DeleteDimensionSuccess {
        deletedId
      }
      ... on ResourceInUse {
        message
        usedBy
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

export default function Dimensions() {
  const viewer = useViewer();
  const canEdit = viewer.role === "TENANT_ADMIN";
  const { dimensions, refetch } = useDimensions({ live: true });
  return (
    <>
      <PageTitle title="Dimensions">
        The objectives of the preference vector α. A dimension's position is its index in α; deleting one moves the later
        ones down (trained adapters keep their own order).
      </PageTitle>
      {canEdit ? <CreateForm onCreated={() => void refetch()} /> : null}
      <Section title="Dimensions in α order">
        {!dimensions ? (
          <p aria-busy="true">Loading…</p>
        ) : dimensions.length === 0 ? (
          <Empty>No dimensions yet{canEdit ? ": create the first one above" : ""}.</Empty>
        ) : (
          <table data-testid="dimensions-table">
            <thead>
              <tr>
                <th>Position in α</th>
                <th>Name</th>
                <th>Description</th>
                <th className="num">β_r</th>
                {canEdit ? <th>Actions</th> : null}
              </tr>
            </thead>
            <tbody>
              {dimensions.map((d) => (
                <DimensionRow key={d.id} dimension={d} k={dimensions.length} canEdit={canEdit} onChanged={() => void refetch()} />
              ))}
            </tbody>
          </table>
        )}
      </Section>
    </>
  );
}

function CreateForm({ onCreated }: { onCreated(): void }) {
  const defaults = inputDefaults.CreateDimensionInput;
  const [name, setName] = useState("");
  const [description, setDescription] = useState<string>(defaults.description);
  const [betaR, setBetaR] = useState(String(defaults.betaR));
  const [errors, setErrors] = useState<FormErrors>(NO_ERRORS);
  const [create, { running }] = useMutation(CreateDimension);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const result = await create({ input: { name: name.trim(), description, betaR: numberOrUndefined(betaR) } });
    if (!result) return;
    const p = result.createDimension;
    if (p.__typename === "CreateDimensionSuccess") {
      setErrors(NO_ERRORS);
      setName("");
      setDescription(defaults.description);
      onCreated();
    } else setErrors(payloadErrors(p));
  };
  return (
    <Section title="New dimension">
      <form onSubmit={(e) => void submit(e)} aria-label="New dimension">
        <div className="form-grid">
          <TextField label="Name" value={name} onChange={setName} error={fieldError(errors, "input.name")} hint="A-Z a-z 0-9 _ -, starting with a letter" required />
          <TextField label="Description" value={description} onChange={setDescription} error={fieldError(errors, "input.description")} />
          <TextField label="β_r" type="number" value={betaR} onChange={setBetaR} error={fieldError(errors, "input.betaR")} hint={`ARM loss β_r; default ${defaults.betaR}`} />
        </div>
        <FormError message={errors.form} />
        <div className="form-actions">
          <button type="submit" className="primary" disabled={running}>
            Create dimension
          </button>
        </div>
      </form>
    </Section>
  );
}

function DimensionRow({ dimension: d, k, canEdit, onChanged }: { dimension: Dimension; k: number; canEdit: boolean; onChanged(): void }) {
  const [editing, setEditing] = useState(false);
  const [name, setName] = useState(d.name);
  const [description, setDescription] = useState(d.description);
  const [betaR, setBetaR] = useState(String(d.betaR));
  const [errors, setErrors] = useState<FormErrors>(NO_ERRORS);
  const [update, { running: saving }] = useMutation(UpdateDimension);
  const [remove, { running: deleting }] = useMutation(DeleteDimension);
  const save = async (e: FormEvent) => {
    e.preventDefault();
    const result = await update({ input: { id: d.id, name: name.trim(), description, betaR: numberOrUndefined(betaR) } });
    if (!result) return;
    if (result.updateDimension.__typename === "UpdateDimensionSuccess") {
      setEditing(false);
      setErrors(NO_ERRORS);
      onChanged();
    } else setErrors(payloadErrors(result.updateDimension));
  };
  const del = async () => {
    if (!window.confirm(`Delete dimension ${d.name}? Later positions move down by one.`)) return;
    const result = await remove({ input: { id: d.id } });
    if (!result) return;
    if (result.deleteDimension.__typename === "DeleteDimensionSuccess") onChanged();
    else setErrors(payloadErrors(result.deleteDimension));
  };
  const alpha = Array.from({ length: k }, (_, i) => (i === d.position ? "■" : "·")).join(" ");
  if (editing) {
    return (
      <tr>
        <td>
          α[{d.position}] <span className="mono muted">{alpha}</span>
        </td>
        <td colSpan={canEdit ? 4 : 3}>
          <form onSubmit={(e) => void save(e)} aria-label={`Edit dimension ${d.name}`} className="form-grid">
            <TextField label="Name" value={name} onChange={setName} error={fieldError(errors, "input.name")} />
            <TextField label="Description" value={description} onChange={setDescription} error={fieldError(errors, "input.description")} />
            <TextField label="β_r" type="number" value={betaR} onChange={setBetaR} error={fieldError(errors, "input.betaR")} />
            <div className="form-actions">
              <button type="submit" className="primary" disabled={saving}>
                Save
              </button>
              <button type="button" onClick={() => setEditing(false)}>
                Cancel
              </button>
            </div>
            <FormError message={errors.form} />
          </form>
        </td>
      </tr>
    );
  }
  return (
    <tr>
      <td>
        α[{d.position}] <span className="mono muted" aria-hidden="true">{alpha}</span>
      </td>
      <td>{d.name}</td>
      <td>{d.description || <span className="muted">—</span>}</td>
      <td className="num">{d.betaR}</td>
      {canEdit ? (
        <td>
          <div className="row">
            <button type="button" onClick={() => setEditing(true)} aria-label={`Edit ${d.name}`}>
              Edit
            </button>
            <button type="button" className="danger" onClick={() => void del()} disabled={deleting} aria-label={`Delete ${d.name}`}>
              Delete
            </button>
          </div>
          <FormError message={errors.form} />
        </td>
      ) : null}
    </tr>
  );
}
