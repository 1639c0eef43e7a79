/**
 * @module api/db/schema-engine — Prisma's schema engine as WebAssembly (`@prisma/schema-engine-wasm`) over the
 * `@prisma/adapter-pg` driver adapter. It replaces the native migrate engine, which cannot be downloaded here
 * (docs/database.md). Only `applyMigrations` (= `prisma migrate deploy`) and `diff` between two datamodels
 * (= `prisma migrate diff`) are used. Diffing from a live database (`schemaDatasource`) does not work here: it
 * needs the `"char"` relabelling of stack-notes §3 and even then never settles. The package is an internal
 * Prisma API, pinned exactly.
 */
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import {
  bindMigrationAwareSqlAdapterFactory,
  type SqlDriverAdapter,
  type SqlMigrationAwareDriverAdapterFactory,
} from "@prisma/driver-adapter-utils";
import { PrismaPg } from "@prisma/adapter-pg";
import * as bindings from "@prisma/schema-engine-wasm/schema_engine_bg";
import type { SchemaEngine, MigrationList } from "@prisma/schema-engine-wasm/schema_engine_bg";
import { SchemaEngineError } from "./errors.ts";
import { silentLogger, type Logger } from "./logger.ts";

let wasmReady: Promise<void> | undefined;

/** The slice of the WebAssembly global used here (tsconfig's lib has no WebAssembly typings). */
interface WasmApi {
  instantiate(bytes: Uint8Array, imports: Record<string, unknown>): Promise<{ instance: { exports: Record<string, unknown> } }>;
}
function wasmApi(): WasmApi {
  return (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
}

/** Instantiates the engine's WebAssembly module once per process (its bindings keep module-level state). */
function loadWasm(): Promise<void> {
  wasmReady ??= (async () => {
    const bindingsUrl = import.meta.resolve("@prisma/schema-engine-wasm/schema_engine_bg");
    const wasmPath = fileURLToPath(new URL("./schema_engine_bg.wasm", bindingsUrl));
    const bytes = await readFile(wasmPath);
    const { instance } = await wasmApi().instantiate(bytes, { "./schema_engine_bg.js": bindings });
    bindings.__wbg_set_wasm(instance.exports);
    const start = instance.exports.__wbindgen_start;
    if (typeof start === "function") (start as () => void)();
  })();
  return wasmReady;
}

/** The engine's own error values are objects or strings; this turns them into a readable message. */
export function describeEngineError(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === "string") return error;
  try {
    return JSON.stringify(error);
  } catch {
    return String(error);
  }
}

export interface EngineHandle {
  readonly engine: SchemaEngine;
  /** Frees the engine and closes its connection pool. */
  dispose(): Promise<void>;
}

/**
 * Opens a schema engine connected to `url` (as that role: migrations run as the table owner).
 * `datamodel` is the Prisma schema text the engine is initialised with (only its datasource provider matters
 * for applyMigrations and diff).
 */
export async function openSchemaEngine(url: string, datamodel: string, log: Logger = silentLogger): Promise<EngineHandle> {
  await loadWasm();
  const pgFactory = new PrismaPg({ connectionString: url, max: 2 });
  // Track every connection the engine opens so dispose() closes them (a database with open sessions cannot be
  // renamed, dropped or used as a template).
  const opened: SqlDriverAdapter[] = [];
  const factory: SqlMigrationAwareDriverAdapterFactory = {
    provider: pgFactory.provider,
    adapterName: pgFactory.adapterName,
    async connect() {
      const adapter = await pgFactory.connect();
      opened.push(adapter);
      return adapter;
    },
    async connectToShadowDb() {
      const adapter = await pgFactory.connectToShadowDb();
      opened.push(adapter);
      return adapter;
    },
  };
  const engineLog = (line: string) => log.debug("schema-engine", { line });
  let engine: SchemaEngine;
  try {
    engine = await bindings.SchemaEngine.new(
      { datamodels: [["schema.prisma", datamodel]] },
      engineLog,
      bindMigrationAwareSqlAdapterFactory(factory),
    );
  } catch (error) {
    throw new SchemaEngineError(`could not start the Prisma schema engine: ${describeEngineError(error)}`, { cause: error });
  }
  return {
    engine,
    async dispose() {
      engine.free();
      await Promise.allSettled(opened.map((adapter) => adapter.dispose()));
    },
  };
}

export const noSchemaFilter = { externalTables: [] as string[], externalEnums: [] as string[] };

export type { MigrationList };
