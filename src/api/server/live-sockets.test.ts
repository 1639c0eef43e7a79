import { test } from "node:test";
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import type { WebSocket } from "ws";
import type { Database } from "../db/index.ts";
import { silentLogger } from "./logger.ts";
import { CLOSE_FORBIDDEN, createLiveSockets } from "./live-sockets.ts";

class FakeSocket extends EventEmitter {
  closes: [number, string][] = [];
  close(code: number, reason: string) {
    this.closes.push([code, reason]);
    this.emit("close");
  }
}

function fakeDb(valid: Set<string>, queries: string[][]) {
  return {
    system: {
      apiKey: {
        findMany: async ({ where }: { where: { id: { in: string[] } } }) => {
          queries.push(where.id.in);
          return where.id.in.filter((id) => valid.has(id)).map((id) => ({ id }));
        },
      },
    },
  } as unknown as Pick<Database, "system">;
}

test("closeSocketsOf closes every socket of the given keys with 4403 and forgets them", () => {
  const live = createLiveSockets({ db: fakeDb(new Set(), []), log: silentLogger, recheckMs: 0 });
  const [a1, a2, b] = [new FakeSocket(), new FakeSocket(), new FakeSocket()];
  live.track("a", a1 as unknown as WebSocket);
  live.track("a", a2 as unknown as WebSocket);
  live.track("b", b as unknown as WebSocket);
  assert.equal(live.closeSocketsOf(["a", "unknown"]), 2);
  assert.deepEqual(a1.closes, [[CLOSE_FORBIDDEN, "Forbidden: API key revoked"]]);
  assert.deepEqual(b.closes, []);
  assert.equal(live.size(), 1);
  b.close(1000, "bye");
  assert.equal(live.size(), 0);
  live.close();
});

test("the re-check closes sockets of keys revoked or deleted elsewhere, queries only while sockets are open", async () => {
  const valid = new Set(["a", "b"]);
  const queries: string[][] = [];
  const live = createLiveSockets({ db: fakeDb(valid, queries), log: silentLogger, recheckMs: 20 });
  const [a, b] = [new FakeSocket(), new FakeSocket()];
  live.track("a", a as unknown as WebSocket);
  live.track("b", b as unknown as WebSocket);
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(a.closes, []);
  valid.delete("a");
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual((a.closes as [number, string][]).map(([code]) => code), [CLOSE_FORBIDDEN]);
  assert.deepEqual(b.closes, []);
  b.close(1000, "bye");
  const asked = queries.length;
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(queries.length, asked, "no query without open sockets");
  live.close();
});
