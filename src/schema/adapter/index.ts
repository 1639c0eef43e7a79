/** @module schema/adapter — GraphQL types of trained ARM adapters. */
export * from "./types.ts";
