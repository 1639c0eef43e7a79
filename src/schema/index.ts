/** @module schema
 *  The GraphQL surface as type-graphql classes. Resolvers live in src/api/resolvers. */
export * from "./common/index.ts";
export * from "./tenant/index.ts";
export * from "./api-key/index.ts";
export * from "./dimension/index.ts";
export * from "./viewer/index.ts";
