/** @module api/server/schema
 *  Builds the executable schema from the resolver registry (type-graphql, class-validator validation on). */
import "reflect-metadata";
import type { GraphQLSchema } from "graphql";
import { buildSchema } from "type-graphql";
import { returnValidationErrorsAsData } from "../plugins/input-validation/index.ts";
import type { ApiPubSub } from "../pubsub/index.ts";

// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
export type ResolverClasses = readonly [Function, ...Function[]];

/** Builds the schema; mutations with a ValidationError payload member return input validation failures as data. */
export async function buildApiSchema(opts: { resolvers: ResolverClasses; pubSub: ApiPubSub }): Promise<GraphQLSchema> {
  const schema = await buildSchema({
    resolvers: [...opts.resolvers] as [Function, ...Function[]],
    pubSub: opts.pubSub,
    validate: { forbidUnknownValues: false },
    emitSchemaFile: false,
  });
  returnValidationErrorsAsData(schema);
  return schema;
}
