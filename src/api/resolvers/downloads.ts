/** @module api/resolvers/downloads
 *  The download links of the domain's objects (routes: api/http/downloads.ts): `downloadUrl` on Adapter, Model,
 *  Evaluation and Dataset, `Adapter.dimensionDownloadUrls` (GenARM), `Evaluation.plotDownloadUrl` and
 *  `Job.checkpointDownloadUrl`. Each is the route's path (relative to the api's origin, the global id URI-encoded),
 *  or null when the object has nothing to download; GET it with the same Bearer key. */
import { FieldResolver, Resolver, Root } from "type-graphql";
import { Adapter } from "../../schema/adapter/index.ts";
import { Dataset } from "../../schema/dataset/index.ts";
import { Evaluation } from "../../schema/evaluation/index.ts";
import { Job } from "../../schema/job/index.ts";
import { Model } from "../../schema/model/index.ts";
import { isPlatformStoredModel } from "../services/artifact-purge.ts";
import type { DatasetRow } from "../services/datasets.ts";
import { downloadPaths } from "../services/downloads.ts";
import type { AdapterRow, EvaluationRow } from "../services/generations.ts";
import type { JobRow } from "../services/jobs.ts";
import type { ModelRow } from "../services/models.ts";

const HOW = "GET it with the same Bearer key (docs/api.md, Downloads).";

@Resolver(() => Adapter)
export class AdapterDownloadResolver {
  @FieldResolver(() => String, {
    nullable: true,
    description: `Path of the download of a PARM adapter's safetensors file; null for a GenARM adapter (see dimensionDownloadUrls) or one without a stored file. ${HOW}`,
  })
  downloadUrl(@Root() row: AdapterRow): string | null {
    return row.method === "PARM" && row.artifactKey ? downloadPaths.adapter(row.id) : null;
  }

  @FieldResolver(() => [String], {
    description: `GenARM: the paths of the downloads of its per-dimension safetensors files, in α order; empty for PARM adapters. ${HOW}`,
  })
  dimensionDownloadUrls(@Root() row: AdapterRow): string[] {
    return row.method === "GENARM" && row.artifactKey ? row.dimensionNames.map((_, i) => downloadPaths.adapterDimension(row.id, i)) : [];
  }
}

@Resolver(() => Model)
export class ModelDownloadResolver {
  @FieldResolver(() => String, {
    nullable: true,
    description: `Path of the download of the file the platform stored (an upload, a trained evaluator); null for a file registered by location under the model roots. ${HOW}`,
  })
  downloadUrl(@Root() row: ModelRow): string | null {
    return isPlatformStoredModel(row, row.tenantId) ? downloadPaths.model(row.id) : null;
  }
}

@Resolver(() => Evaluation)
export class EvaluationDownloadResolver {
  @FieldResolver(() => String, {
    description: `Path of the download of the report JSON: the runner's Pareto report once stored at completion, else one built from the stored points. ${HOW}`,
  })
  downloadUrl(@Root() row: EvaluationRow): string {
    return downloadPaths.evaluationReport(row.id);
  }

  @FieldResolver(() => String, {
    nullable: true,
    description: `Path of the download of the Pareto plot (SVG), once the runner stored it at completion; null before. ${HOW}`,
  })
  plotDownloadUrl(@Root() row: EvaluationRow): string | null {
    const plot = (row.report as { plotFile?: unknown } | null)?.plotFile;
    return plot ? downloadPaths.evaluationPlot(row.id) : null;
  }
}

@Resolver(() => Dataset)
export class DatasetDownloadResolver {
  @FieldResolver(() => String, {
    nullable: true,
    description: `Path of the download of the accepted records as JSON Lines, each with its split (READY datasets; null otherwise). ${HOW}`,
  })
  downloadUrl(@Root() row: DatasetRow): string | null {
    return row.status === "READY" ? downloadPaths.datasetRecords(row.id) : null;
  }
}

@Resolver(() => Job)
export class JobDownloadResolver {
  @FieldResolver(() => String, {
    nullable: true,
    description: `TRAIN jobs: path of the download of the latest training checkpoint (409 while none is stored); null for other kinds. ${HOW}`,
  })
  checkpointDownloadUrl(@Root() row: JobRow): string | null {
    return row.kind === "TRAIN" ? downloadPaths.checkpoint(row.id) : null;
  }
}

/** The resolver classes of this module (resolvers/index.ts `resolvers`). */
export const downloadLinkResolvers = [AdapterDownloadResolver, ModelDownloadResolver, EvaluationDownloadResolver, DatasetDownloadResolver, JobDownloadResolver] as const;
