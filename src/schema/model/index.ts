/** @module schema/model — GraphQL types of registered model files. */
export * from "./types.ts";
