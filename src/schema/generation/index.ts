/** @module schema/generation — GraphQL types of guided generations and streamed tokens. */
export * from "./types.ts";
