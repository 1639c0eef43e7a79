/** @module contracts/datasets — preference-pair dataset formats, streaming parser with validation report, splits. */
export * from "./types.ts";
export * from "./formats.ts";
export * from "./split.ts";
export * from "./limits.ts";
export * from "./line-splitter.ts";
export * from "./parser.ts";
export * from "./acceptance.ts";
export * from "./snapshot.ts";
