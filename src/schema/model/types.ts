/** @module schema/model/types
 *  GraphQL surface of model files (base LMs, ARM backbones, evaluators): the Model node, registerModel's
 *  input and payload union, and the model-specific error types. */
import { Field, Float, ID, InputType, Int, ObjectType, createUnionType, registerEnumType } from "type-graphql";
import { Connection, ErrorInterface, JSONScalar, Node, NotFoundError, QuotaExceeded, ValidationError } from "../common/index.ts";

export const ModelKind = { BASE: "BASE", ARM_BASE: "ARM_BASE", EVALUATOR: "EVALUATOR" } as const;
export type ModelKind = (typeof ModelKind)[keyof typeof ModelKind];
registerEnumType(ModelKind, {
  name: "ModelKind",
  description: "BASE: the LM being steered; ARM_BASE: the backbone ARM adapters are trained on; EVALUATOR: a reward model scoring one dimension.",
});

export const ModelFormat = { GGUF: "GGUF", SAFETENSORS: "SAFETENSORS", ONNX: "ONNX" } as const;
export type ModelFormat = (typeof ModelFormat)[keyof typeof ModelFormat];
registerEnumType(ModelFormat, { name: "ModelFormat", description: "Detected from the file header (ONNX by the .onnx extension)." });

export const PromptTemplate = { HH: "HH", PKU: "PKU", PLAIN: "PLAIN" } as const;
export type PromptTemplate = (typeof PromptTemplate)[keyof typeof PromptTemplate];
registerEnumType(PromptTemplate, {
  name: "PromptTemplate",
  description:
    "How chat messages and bare dataset prompts become a prompt for a model without a chat template of its own. HH: HH-RLHF's `\\n\\nHuman: …\\n\\nAssistant:`; PKU: `BEGINNING OF CONVERSATION: USER: … ASSISTANT:` (PARM's PKU-SafeRLHF format); PLAIN: the text as it is.",
});

@ObjectType("Model", { implements: Node })
export class Model extends Node {
  @Field(() => String)
  name!: string;
  @Field(() => ModelKind)
  kind!: ModelKind;
  @Field(() => ModelFormat)
  format!: ModelFormat;
  @Field(() => String, { description: "Where runners read it: the canonical file:// URL under the model roots, or obj://artifacts/<key> / file:// in the platform's store for uploads." })
  location!: string;
  @Field(() => String, { nullable: true })
  sha256!: string | null;
  @Field(() => Float, { nullable: true })
  sizeBytes!: number | null;
  @Field(() => Float, { nullable: true, description: "Bytes the platform stores for this upload (counted against Tenant.maxModelBytes); null for a file registered by location." })
  storedBytes!: number | null;
  @Field(() => Int, { nullable: true, description: "Vocabulary size, when the header tells it." })
  vocabSize!: number | null;
  @Field(() => String, { nullable: true, description: "sha256 over the token strings in id order (NUL-separated)." })
  tokenizerHash!: string | null;
  @Field(() => JSONScalar, {
    nullable: true,
    description:
      "Facts read from the header (architecture, context length …); the model's own chat template as chatTemplate (with bosToken, eosToken, chatTemplateSource), or chatTemplateProblem when one was found but cannot be used.",
  })
  config!: unknown;
  @Field(() => PromptTemplate, {
    nullable: true,
    description: "The prompt format named at registration. Prompts use the model's own chat template when it has one, else this, else HH.",
  })
  promptTemplate!: PromptTemplate | null;
  @Field(() => ID, { nullable: true, description: "EVALUATOR models: global id of the dimension they score." })
  dimensionId!: string | null;
  @Field(() => Date)
  createdAt!: Date;
}

export const ModelConnection = Connection(Model, "Model");

@ObjectType("ModelFileInvalid", { implements: ErrorInterface, description: "The model file cannot be registered." })
export class ModelFileInvalid extends ErrorInterface {
  @Field(() => String, { description: "The location as given." })
  location!: string;
  @Field(() => String, {
    description:
      "UNSUPPORTED_LOCATION (not a file:// URL or absolute path) | LOCATION_REFUSED (not a readable model file under the model roots, whatever the reason: the answer says nothing about the host) | UNKNOWN_FORMAT | CORRUPT_HEADER | UNSUPPORTED_MODEL (a file runners cannot load as this kind, e.g. a safetensors BASE: the message names what is missing)",
  })
  problem!: string;
  constructor(init?: { message: string; location: string; problem: string }) {
    super();
    if (init) Object.assign(this, init);
  }
}

@ObjectType("VocabularyMismatch", {
  implements: ErrorInterface,
  description: "The base model and the ARM backbone do not share a vocabulary (size or tokenizer digest differ).",
})
export class VocabularyMismatch extends ErrorInterface {
  @Field(() => ID)
  baseModelId!: string;
  @Field(() => ID)
  otherModelId!: string;
  @Field(() => Int, { nullable: true })
  baseVocabSize!: number | null;
  @Field(() => Int, { nullable: true })
  otherVocabSize!: number | null;
  constructor(init?: { message: string; baseModelId: string; otherModelId: string; baseVocabSize: number | null; otherVocabSize: number | null }) {
    super();
    if (init) Object.assign(this, init);
  }
}

@InputType("ModelUploadInput", { description: "A small model file sent inline (bounded by the request body limit); stored in the artifact store and counted against Tenant.maxModelBytes. Stream larger files to POST /v1/models." })
export class ModelUploadInput {
  @Field(() => String, { description: "File name, used for the extension (e.g. model.gguf)." })
  fileName!: string;
  @Field(() => String)
  contentBase64!: string;
}

@InputType("RegisterModelInput", { description: "Exactly one of `location` and `upload`." })
export class RegisterModelInput {
  @Field(() => String)
  name!: string;
  @Field(() => ModelKind)
  kind!: ModelKind;
  @Field(() => String, { nullable: true, description: "A file:// URL or absolute path of a file under the server's model roots (PARM_MODEL_ROOTS)." })
  location?: string | null;
  @Field(() => ModelUploadInput, { nullable: true })
  upload?: ModelUploadInput | null;
  @Field(() => ID, { nullable: true, description: "EVALUATOR: the PreferenceDimension it scores." })
  dimensionId?: string | null;
  @Field(() => PromptTemplate, {
    nullable: true,
    description:
      "BASE / ARM_BASE: the prompt format for chat and for training on bare prompts (PKU-SafeRLHF, generic) when the file has no chat template of its own (GGUF tokenizer.chat_template, a Hugging Face tokenizer_config.json or chat_template.jinja beside it); default HH. Refused for a file with its own template and for EVALUATOR models.",
  })
  promptTemplate?: PromptTemplate | null;
}

@ObjectType("RegisterModelSuccess")
export class RegisterModelSuccess {
  @Field(() => Model)
  model!: Model;
  constructor(model?: Model) {
    if (model) this.model = model;
  }
}

export const RegisterModelPayload = createUnionType({
  name: "RegisterModelPayload",
  types: () => [RegisterModelSuccess, ModelFileInvalid, ValidationError, NotFoundError, QuotaExceeded] as const,
});
