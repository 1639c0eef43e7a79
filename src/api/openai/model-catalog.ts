/** @module api/openai/model-catalog
 *
 * What `model` (and `base_model`) may name on the OpenAI-compatible routes: the tenant's adapters that have their
 * artifact, and its BASE / ARM_BASE models (never EVALUATOR models). Each entry's id is readable and stable:
 * - the row's name (names are unique per tenant among adapters and among models); adapters claim names first
 *   (oldest first), then models; an entry whose name is already claimed (a model named like an adapter) is listed
 *   under its global id instead, so every listed id names exactly one entry;
 * - every entry is also found by its global id (`Adapter:…` / `Model:…`, as GraphQL returns them).
 * `GET /v1/models` lists the entries; `find` resolves a requested id with the same rule. Reads go through the
 * tenant-scoped client (RLS), so another tenant's names and ids are never found.
 */
import type { TenantServiceDeps } from "../services/deps.ts";
import type { AdapterRow } from "../services/generations.ts";
import type { ModelRow } from "../services/models.ts";
import { fromGlobalId, toGlobalId } from "../../schema/common/index.ts";

export type CatalogEntry =
  | { id: string; globalId: string; kind: "ADAPTER"; adapter: AdapterRow; createdAt: Date }
  | { id: string; globalId: string; kind: "BASE" | "ARM_BASE"; model: ModelRow; createdAt: Date };

export interface ModelCatalog {
  readonly entries: readonly CatalogEntry[];
  /** The entry `id` names (a listed id or a global id), or null. */
  find(id: string): CatalogEntry | null;
  /** The entry of model row `modelId` (e.g. an adapter's backbone), or null when it is not in the catalog. */
  modelEntry(modelId: string): Extract<CatalogEntry, { kind: "BASE" | "ARM_BASE" }> | null;
}

function globalIdUuid(id: string): string | null {
  try {
    return fromGlobalId(id).uuid;
  } catch {
    return null;
  }
}

/** Loads the caller tenant's catalog (two queries). */
export async function loadModelCatalog(deps: TenantServiceDeps): Promise<ModelCatalog> {
  const adapters = (await deps.db.adapter.findMany({ where: { artifactKey: { not: null } }, orderBy: [{ createdAt: "asc" }, { id: "asc" }] })) as AdapterRow[];
  const models = (await deps.db.model.findMany({ where: { kind: { in: ["BASE", "ARM_BASE"] } }, orderBy: [{ createdAt: "asc" }, { id: "asc" }] })) as ModelRow[];
  const claimed = new Set<string>();
  const listedId = (name: string, globalId: string) => {
    if (claimed.has(name) || name.length === 0) return globalId;
    claimed.add(name);
    return name;
  };
  const entries: CatalogEntry[] = [
    ...adapters.map((adapter) => {
      const globalId = toGlobalId("Adapter", adapter.id);
      return { id: listedId(adapter.name, globalId), globalId, kind: "ADAPTER" as const, adapter, createdAt: adapter.createdAt };
    }),
    ...models.map((model) => {
      const globalId = toGlobalId("Model", model.id);
      return { id: listedId(model.name, globalId), globalId, kind: model.kind as "BASE" | "ARM_BASE", model, createdAt: model.createdAt };
    }),
  ];
  const byId = new Map(entries.map((e) => [e.id, e]));
  const byUuid = new Map(entries.map((e) => [e.kind === "ADAPTER" ? e.adapter.id : e.model.id, e]));
  return {
    entries,
    find(id) {
      const listed = byId.get(id);
      if (listed) return listed;
      const uuid = globalIdUuid(id);
      const entry = uuid ? byUuid.get(uuid) : undefined;
      return entry && entry.globalId === id ? entry : null;
    },
    modelEntry(modelId) {
      const entry = byUuid.get(modelId);
      return entry && entry.kind !== "ADAPTER" ? entry : null;
    },
  };
}

/** The OpenAI model object of an entry, with the platform's details under `parm`. */
export function modelObject(entry: CatalogEntry, catalog: ModelCatalog) {
  const parm =
    entry.kind === "ADAPTER"
      ? {
          id: entry.globalId,
          kind: entry.kind,
          method: entry.adapter.method,
          base_model: catalog.modelEntry(entry.adapter.baseModelId)?.id ?? null,
          dimensions: entry.adapter.dimensionNames,
        }
      : { id: entry.globalId, kind: entry.kind };
  return { id: entry.id, object: "model" as const, created: Math.floor(entry.createdAt.getTime() / 1000), owned_by: "tenant", parm };
}
