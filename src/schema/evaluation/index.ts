/** @module schema/evaluation — GraphQL types of Pareto evaluations and their points. */
export * from "./types.ts";
