/** @module api/resolvers/model
 *  Models: `models` (connection, optional kind filter) and `registerModel` (a file under the server's model roots,
 *  or a small inline base64 upload; large files stream to `POST /v1/models`). The file header is inspected at
 *  registration. */
import { Arg, Args, ArgsType, Ctx, Field, FieldResolver, Float, ID, Mutation, Query, Resolver, Root } from "type-graphql";
import { ConnectionArgs, paginate, toGlobalId, type ConnectionResult } from "../../schema/common/index.ts";
import {
  Model,
  ModelConnection,
  ModelKind,
  RegisterModelInput,
  RegisterModelPayload,
  RegisterModelSuccess,
} from "../../schema/model/index.ts";
import type { ApiContext } from "../context.ts";
import { serviceDeps } from "../services/context.ts";
import { InputValidationError } from "../services/errors.ts";
import { MAX_INLINE_MODEL_BYTES, registerModel, type ModelRow, type ModelUpload } from "../services/models.ts";
import { asPayload } from "../services/payload-errors.ts";
import { inputId } from "./node-ids.ts";
import { tenantScopedNode } from "./node-registry.ts";

export const modelNode = tenantScopedNode("Model", "model");

@ArgsType()
class ModelsArgs extends ConnectionArgs {
  @Field(() => ModelKind, { nullable: true })
  kind?: ModelKind | null;
}

@Resolver(() => Model)
export class ModelResolver {
  @FieldResolver(() => ID)
  id(@Root() row: ModelRow): string {
    return toGlobalId("Model", row.id);
  }

  @FieldResolver(() => Float, { nullable: true })
  sizeBytes(@Root() row: ModelRow): number | null {
    return row.sizeBytes === null ? null : Number(row.sizeBytes);
  }

  @FieldResolver(() => Float, { nullable: true })
  storedBytes(@Root() row: ModelRow): number | null {
    return row.storedBytes === null ? null : Number(row.storedBytes);
  }

  @FieldResolver(() => ID, { nullable: true })
  dimensionId(@Root() row: ModelRow): string | null {
    return row.dimensionId ? toGlobalId("PreferenceDimension", row.dimensionId) : null;
  }

  @Query(() => ModelConnection, { description: "The tenant's models, newest first." })
  async models(@Args(() => ModelsArgs) args: ModelsArgs, @Ctx() ctx: ApiContext): Promise<ConnectionResult<ModelRow>> {
    const { db } = serviceDeps(ctx);
    const filter = args.kind ? { kind: args.kind } : {};
    return paginate(args, async (q) =>
      (await db.model.findMany({ where: { AND: [filter, q.where] }, orderBy: q.orderBy, take: q.take })) as ModelRow[],
    );
  }

  @Mutation(() => RegisterModelPayload, {
    description: "Registers a model file: format, size, sha256, vocabulary size and tokenizer digest come from the file.",
  })
  async registerModel(
    @Arg("input", () => RegisterModelInput) input: RegisterModelInput,
    @Ctx() ctx: ApiContext,
  ): Promise<typeof RegisterModelPayload> {
    const deps = serviceDeps(ctx);
    return asPayload<typeof RegisterModelPayload>(async () => {
      const dimensionId = input.dimensionId ? inputId(input.dimensionId, "PreferenceDimension", "input.dimensionId") : null;
      let upload: ModelUpload | null = null;
      if (input.upload) {
        if (input.upload.contentBase64.length > Math.ceil((MAX_INLINE_MODEL_BYTES * 4) / 3) + 4) {
          throw new InputValidationError("input.upload.contentBase64", `inline uploads are limited to ${MAX_INLINE_MODEL_BYTES} bytes; stream larger files to POST /v1/models`);
        }
        const bytes = Buffer.from(input.upload.contentBase64, "base64");
        upload = {
          fileName: input.upload.fileName,
          body: [bytes],
          declaredBytes: bytes.length,
          fileNameField: "input.upload.fileName",
          contentField: "input.upload.contentBase64",
        };
      }
      const row = await registerModel(deps, { name: input.name, kind: input.kind, location: input.location, upload, dimensionId, promptTemplate: input.promptTemplate ?? null });
      return new RegisterModelSuccess(row as unknown as Model);
    });
  }
}
