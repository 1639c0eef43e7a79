/** @module api/server/socket-writes.test — coalesced writes over a real WebSocket on loopback: order, callbacks,
 *  and the frames of one tick leaving together. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { WebSocket, WebSocketServer } from "ws";
import { coalesceWrites } from "./socket-writes.ts";

async function pair(): Promise<{ server: WebSocket; client: WebSocket; close: () => Promise<void> }> {
  const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
  await once(wss, "listening");
  const port = (wss.address() as { port: number }).port;
  const accepted = once(wss, "connection") as Promise<[WebSocket]>;
  const client = new WebSocket(`ws://127.0.0.1:${port}`);
  await once(client, "open");
  const [server] = await accepted;
  return {
    server,
    client,
    close: async () => {
      client.close();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

test("frames sent in one tick arrive in order, in one write; each callback is called once", async () => {
  const { server, client, close } = await pair();
  try {
    coalesceWrites(server);
    const raw = (server as unknown as { _socket: { _writev?: unknown; write: (...args: unknown[]) => boolean } })._socket;
    let writes = 0;
    const net = raw as unknown as { _writeGeneric: (...args: unknown[]) => unknown };
    const original = net._writeGeneric.bind(raw);
    net._writeGeneric = (...args: unknown[]) => {
      writes++;
      return original(...args);
    };
    const received: string[] = [];
    const all = new Promise<void>((resolve) => client.on("message", (data) => received.push(String(data)) === 100 && resolve()));
    let acked = 0;
    for (let i = 0; i < 100; i++) server.send(`m${i}`, () => acked++);
    await all;
    assert.deepEqual(received, Array.from({ length: 100 }, (_, i) => `m${i}`));
    assert.equal(acked, 100);
    assert.equal(writes, 1, "100 frames of one tick left in one write");
    server.send("after", (error) => assert.equal(error, undefined));
    const [last] = (await once(client, "message")) as [Buffer];
    assert.equal(String(last), "after");
  } finally {
    await close();
  }
});
