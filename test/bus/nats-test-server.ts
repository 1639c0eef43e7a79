/**
 * @module test/bus/nats-test-server — the NATS server the JetStream tests use: NATS_URL (set by
 * `node scripts/test.mjs`), else a private nats-server if installed. Without either the tests fail and say why.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { busNames, startLocalNatsServer, storeNames } from "../../src/bus/index.ts";

let urlPromise: Promise<string> | null = null;

export function natsTestUrl(): Promise<string> {
  urlPromise ??= (async () => {
    if (process.env.NATS_URL) return process.env.NATS_URL;
    const dir = mkdtempSync(join(tmpdir(), "parm-bus-test-"));
    const server = await startLocalNatsServer(join(dir, "nats"), { info: () => {}, warn: () => {} });
    if (!server) {
      throw new Error("JetStream tests need NATS_URL or an installed nats-server (apt-get install nats-server); run them via `node scripts/test.mjs test/bus`");
    }
    after(async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    });
    return server.url;
  })();
  return urlPromise;
}

/** A namespace no other test uses. */
export function uniqueNamespace(): string {
  return `t${crypto.randomUUID().replace(/-/g, "").slice(0, 12)}`;
}

/** Deletes the streams, KV buckets and object store of a test namespace. */
export async function deleteNamespace(url: string, namespace: string): Promise<void> {
  const nc = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    const names = busNames(namespace);
    const stores = storeNames(namespace);
    for (const stream of [names.jobsStream, names.eventsStream, names.dlqStream, `KV_${stores.runnersBucket}`, `KV_${stores.cancelsBucket}`, `OBJ_${stores.artifactsStore}`]) {
      await jsm.streams.delete(stream).catch(() => false);
    }
  } finally {
    await nc.close();
  }
}
