/** @module schema/common/scalars
 *  Scalars used across the schema. `DateTime` fields use `DateTimeISO` (what type-graphql maps `Date` to);
 *  free-form JSON uses `JSON`. */
import { GraphQLJSON, GraphQLDateTimeISO } from "graphql-scalars";

export const DateTimeScalar = GraphQLDateTimeISO;
export const JSONScalar = GraphQLJSON;
