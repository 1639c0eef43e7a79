/** @module schema/dataset/types
 *  GraphQL surface of preference-pair datasets: the Dataset node, its validation report, the create/upload
 *  inputs and payload unions. Byte sizes are Float (exact below 2^53). */
import { Field, Float, ID, InputType, Int, ObjectType, createUnionType, registerEnumType } from "type-graphql";
import { ErrorInterface, Node, NotFoundError, QuotaExceeded, ValidationError, Connection } from "../common/index.ts";

export const DatasetFormat = { HH_RLHF: "HH_RLHF", PKU_SAFERLHF: "PKU_SAFERLHF", GENERIC: "GENERIC" } as const;
export type DatasetFormat = (typeof DatasetFormat)[keyof typeof DatasetFormat];
registerEnumType(DatasetFormat, {
  name: "DatasetFormat",
  description: "Upload format. HH_RLHF: {chosen, rejected} dialogues; PKU_SAFERLHF: {prompt, response_0, response_1, better_response_id, safer_response_id}; GENERIC: {prompt, chosen, rejected}.",
});

export const DatasetStatus = { EMPTY: "EMPTY", READY: "READY", REJECTED: "REJECTED" } as const;
export type DatasetStatus = (typeof DatasetStatus)[keyof typeof DatasetStatus];
registerEnumType(DatasetStatus, {
  name: "DatasetStatus",
  description: "EMPTY: created, no records; READY: an upload was accepted; REJECTED: the last upload failed validation (no records stored).",
});

export const DatasetSplit = { TRAIN: "TRAIN", VALIDATION: "VALIDATION", TEST: "TEST" } as const;
export type DatasetSplit = (typeof DatasetSplit)[keyof typeof DatasetSplit];
registerEnumType(DatasetSplit, { name: "DatasetSplit", description: "Deterministic split, decided by a hash of the pair." });

@ObjectType("DatasetLabelMapping", { description: "A label of the format (\"preferred\", \"better\", \"safer\") and the dimension it trains." })
export class DatasetLabelMapping {
  @Field(() => String)
  label!: string;
  @Field(() => ID, { description: "Global id of the PreferenceDimension." })
  dimensionId!: string;
}

@ObjectType("SplitRatios")
export class SplitRatios {
  @Field(() => Float)
  train!: number;
  @Field(() => Float)
  validation!: number;
  @Field(() => Float)
  test!: number;
}

@ObjectType("SplitCounts")
export class SplitCounts {
  @Field(() => Int)
  train!: number;
  @Field(() => Int)
  validation!: number;
  @Field(() => Int)
  test!: number;
}

@ObjectType("DatasetIssue", { description: "One rejected line: its 1-based number (0 = the file as a whole), a code and a reason." })
export class DatasetIssue {
  @Field(() => Int)
  line!: number;
  @Field(() => String, {
    description:
      "MALFORMED_JSON | MISSING_FIELD | EMPTY_RESPONSE | IDENTICAL_PAIR | PROMPT_PREFIX_MISMATCH | INVALID_LABEL | TOO_LARGE | NOT_UTF8 | NUL_CHARACTER;" +
      " for the file as a whole: TOO_LARGE | CORRUPT_GZIP | EXPANSION_RATIO_EXCEEDED | TOO_MANY_LINES (the reason names the limit)",
  })
  code!: string;
  @Field(() => String)
  reason!: string;
}

@ObjectType("DatasetIssueCount")
export class DatasetIssueCount {
  @Field(() => String)
  code!: string;
  @Field(() => Int)
  count!: number;
}

@ObjectType("DatasetLabelCount", { description: "How many accepted pairs prefer response 0 and response 1 under a label." })
export class DatasetLabelCount {
  @Field(() => String)
  label!: string;
  @Field(() => Int)
  preferResponse0!: number;
  @Field(() => Int)
  preferResponse1!: number;
}

@ObjectType("DatasetValidationReport", {
  description: "What validation found. Counts are exact; `issues` lists the first problems in line order.",
})
export class DatasetValidationReport {
  @Field(() => DatasetFormat)
  format!: DatasetFormat;
  @Field(() => Int, { description: "Non-blank lines." })
  totalLines!: number;
  @Field(() => Int)
  accepted!: number;
  @Field(() => Int)
  rejected!: number;
  @Field(() => [DatasetIssue])
  issues!: DatasetIssue[];
  @Field(() => Boolean, { description: "True when more issues exist than `issues` lists." })
  issuesTruncated!: boolean;
  @Field(() => [DatasetIssueCount], { description: "Rejected lines per issue code (codes with a zero count omitted)." })
  countsByCode!: DatasetIssueCount[];
  @Field(() => SplitCounts)
  splitCounts!: SplitCounts;
  @Field(() => [DatasetLabelCount])
  labelCounts!: DatasetLabelCount[];
  @Field(() => Float, { description: "Bytes after decompression." })
  bytes!: number;
  @Field(() => Boolean)
  gzip!: boolean;
}

@ObjectType("Dataset", { implements: Node })
export class Dataset extends Node {
  @Field(() => String)
  name!: string;
  @Field(() => DatasetFormat)
  format!: DatasetFormat;
  @Field(() => DatasetStatus)
  status!: DatasetStatus;
  @Field(() => [DatasetLabelMapping])
  dimensionMap!: DatasetLabelMapping[];
  @Field(() => SplitRatios)
  splitRatios!: SplitRatios;
  @Field(() => Int)
  recordCount!: number;
  @Field(() => SplitCounts, { nullable: true })
  splitCounts!: SplitCounts | null;
  @Field(() => Float, { description: "Stored bytes (decompressed upload), counted against the tenant quota." })
  byteSize!: number;
  @Field(() => String, { nullable: true, description: "sha256 of the decompressed upload." })
  sha256!: string | null;
  @Field(() => DatasetValidationReport, { nullable: true, description: "Report of the last upload (accepted or rejected)." })
  validationReport!: DatasetValidationReport | null;
  @Field(() => Date)
  createdAt!: Date;
  @Field(() => Date)
  updatedAt!: Date;
}

export const DatasetConnection = Connection(Dataset, "Dataset");

@ObjectType("DatasetValidationFailed", {
  implements: ErrorInterface,
  description: "The upload was rejected and nothing was stored; the report names each bad line.",
})
export class DatasetValidationFailed extends ErrorInterface {
  @Field(() => DatasetValidationReport)
  report!: DatasetValidationReport;
  constructor(init?: { message: string; report: DatasetValidationReport }) {
    super();
    if (init) {
      this.message = init.message;
      this.report = init.report;
    }
  }
}

@InputType("DatasetLabelInput")
export class DatasetLabelInput {
  @Field(() => String, { description: "A label of the format: \"preferred\" (HH_RLHF, GENERIC) or \"better\"/\"safer\" (PKU_SAFERLHF)." })
  label!: string;
  @Field(() => ID, { description: "Global id of the PreferenceDimension this label trains." })
  dimensionId!: string;
}

@InputType("SplitRatiosInput")
export class SplitRatiosInput {
  @Field(() => Float)
  train!: number;
  @Field(() => Float)
  validation!: number;
  @Field(() => Float)
  test!: number;
}

@InputType("CreateDatasetInput")
export class CreateDatasetInput {
  @Field(() => String)
  name!: string;
  @Field(() => DatasetFormat)
  format!: DatasetFormat;
  @Field(() => [DatasetLabelInput], { description: "Every label of the format mapped to one dimension." })
  labels!: DatasetLabelInput[];
  @Field(() => SplitRatiosInput, { nullable: true, description: "Default 0.9 / 0.05 / 0.05." })
  splitRatios?: SplitRatiosInput | null;
}

@ObjectType("CreateDatasetSuccess")
export class CreateDatasetSuccess {
  @Field(() => Dataset)
  dataset!: Dataset;
  constructor(dataset?: Dataset) {
    if (dataset) this.dataset = dataset;
  }
}

export const CreateDatasetPayload = createUnionType({
  name: "CreateDatasetPayload",
  types: () => [CreateDatasetSuccess, ValidationError, NotFoundError] as const,
});

@InputType("UploadDatasetInput")
export class UploadDatasetInput {
  @Field(() => ID)
  datasetId!: string;
  @Field(() => String, {
    description: "The file as base64: JSON Lines, or gzip-compressed JSON Lines (detected by its magic bytes). For large files use POST /v1/datasets/:id/records.",
  })
  contentBase64!: string;
}

@ObjectType("UploadDatasetSuccess")
export class UploadDatasetSuccess {
  @Field(() => Dataset)
  dataset!: Dataset;
  @Field(() => DatasetValidationReport)
  report!: DatasetValidationReport;
  constructor(init?: { dataset: Dataset; report: DatasetValidationReport }) {
    if (init) {
      this.dataset = init.dataset;
      this.report = init.report;
    }
  }
}

export const UploadDatasetPayload = createUnionType({
  name: "UploadDatasetPayload",
  types: () => [UploadDatasetSuccess, DatasetValidationFailed, QuotaExceeded, NotFoundError, ValidationError] as const,
});
