/**
 * @module gpu-runner/handlers/inputs — fetching a job's inputs (models, adapters, dataset snapshots) through the
 * artifact cache, with failures turned into JobFailureError codes a user can act on. Each fetch gives up as soon as
 * the job's `signal` aborts (JobFailureError CANCELLED; a shared download still completes into the cache).
 */
import { readFile } from "node:fs/promises";
import type { AdapterRef, DatasetRef, ModelRef } from "../../contracts/index.ts";
import { ArtifactDigestMismatchError, ArtifactUnavailableError, type ArtifactCache } from "../artifacts/index.ts";
import { parseSnapshot, SnapshotFormatError, type SnapshotForTraining } from "./train-data.ts";
import { untilCancelled } from "./cancel.ts";
import { JobFailureError } from "./types.ts";
import type { ModelFileRef } from "../worker/index.ts";

function unavailable(code: "MODEL_UNAVAILABLE" | "DATASET_UNAVAILABLE", error: unknown): never {
  if (error instanceof ArtifactUnavailableError) {
    throw new JobFailureError(code, `${error.message}; register it again or check that runners can reach it`, true, { cause: error });
  }
  if (error instanceof ArtifactDigestMismatchError) {
    throw new JobFailureError(code, `${error.message}; the stored file changed after registration, register it again`, false, { cause: error });
  }
  throw error;
}

export async function resolveModel(cache: ArtifactCache, model: ModelRef, what: string, signal: AbortSignal): Promise<ModelFileRef> {
  try {
    return { id: model.id, path: await untilCancelled(signal, cache.resolve(model.location, model.sha256, `${what} ${model.id}`), `fetching the ${what}`) };
  } catch (error) {
    return unavailable("MODEL_UNAVAILABLE", error);
  }
}

/** A GenARM adapter artifact: a JSON manifest listing one adapter file per dimension. */
export interface AdapterManifest {
  readonly method: "GENARM";
  readonly adapters: readonly { readonly key: string; readonly sha256: string; readonly dimensions: readonly string[] }[];
}

export const ADAPTER_MANIFEST_SUFFIX = "manifest.json";

/** The adapter files of an AdapterRef: one for PARM, one per dimension for GenARM (via its manifest). */
export async function resolveAdapterFiles(cache: ArtifactCache, adapter: AdapterRef, signal: AbortSignal): Promise<Uint8Array[]> {
  const readAdapter = async (location: string, sha256: string | null, what: string) =>
    new Uint8Array(await readFile(await untilCancelled(signal, cache.resolve(location, sha256, what), "fetching the adapter")));
  try {
    const bytes = await readAdapter(adapter.location, adapter.sha256, `adapter ${adapter.id}`);
    if (!adapter.location.endsWith(ADAPTER_MANIFEST_SUFFIX)) return [bytes];
    const manifest = JSON.parse(new TextDecoder().decode(bytes)) as AdapterManifest;
    const bucket = adapter.location.startsWith("obj://") ? adapter.location.slice(6).split("/")[0] : "artifacts";
    const files: Uint8Array[] = [];
    for (const entry of manifest.adapters) files.push(await readAdapter(`obj://${bucket}/${entry.key}`, entry.sha256, `adapter ${adapter.id} (${entry.dimensions.join(", ")})`));
    return files;
  } catch (error) {
    if (error instanceof SyntaxError) throw new JobFailureError("MODEL_UNAVAILABLE", `adapter ${adapter.id}: its manifest is not JSON`, false);
    return unavailable("MODEL_UNAVAILABLE", error);
  }
}

export async function loadSnapshot(cache: ArtifactCache, dataset: DatasetRef, signal: AbortSignal): Promise<SnapshotForTraining> {
  let text: string;
  try {
    const path = await untilCancelled(signal, cache.resolve(dataset.snapshot.location, dataset.snapshot.sha256, `dataset ${dataset.datasetId} snapshot`), "fetching the dataset");
    text = await readFile(path, "utf8");
  } catch (error) {
    return unavailable("DATASET_UNAVAILABLE", error);
  }
  try {
    return { records: parseSnapshot(text, `dataset ${dataset.datasetId} snapshot`), dimensionMap: dataset.dimensionMap, format: dataset.format };
  } catch (error) {
    if (error instanceof SnapshotFormatError) throw new JobFailureError("DATASET_UNAVAILABLE", `${error.message}; upload the dataset again`, false, { cause: error });
    throw error;
  }
}
