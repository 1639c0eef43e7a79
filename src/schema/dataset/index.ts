/** @module schema/dataset — GraphQL types of preference-pair datasets (node, report, inputs, payloads). */
export * from "./types.ts";
