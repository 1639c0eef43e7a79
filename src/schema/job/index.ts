/** @module schema/job — GraphQL types of jobs, job events, cancelJob and the training mutations. */
export * from "./types.ts";
export * from "./training.ts";
