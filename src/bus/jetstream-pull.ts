/**
 * @module bus/jetstream-pull — the JetStream messages a job consumer hands out, as one interface for both ways of
 * pulling them: `fetch` (nats.js, a pull that waits up to `expires`) and `pullReady`, a `no_wait` pull request that
 * the server answers at once with the messages ready now, or a 404/408 status when there are none. nats.js's simplified
 * consumer API has no `no_wait`, so `pullReady` speaks the JetStream API subject directly
 * (`$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>`) and acknowledges over the message's reply subject as nats.js does
 * (`+ACK` as a request for an ack-ack, `-NAK {"delay"}`, `+WPI`, `+TERM`).
 */
import { createInbox, nanos, type Msg, type NatsConnection } from "@nats-io/transport-node";
import type { JsMsg } from "@nats-io/jetstream";

/** A job message as the bus settles it. */
export interface JobMessage {
  readonly subject: string;
  /** Sequence in the jobs stream. */
  readonly seq: number;
  /** 1 on first delivery. */
  readonly deliveryCount: number;
  json(): unknown;
  /** Acknowledges and waits for the server's confirmation. */
  ackAck(): Promise<void>;
  nak(delayMs?: number): void;
  working(): void;
  term(): void;
}

const JS_API_PREFIX = "$JS.API";
const ACK_TIMEOUT_MS = 5000;
const encoder = new TextEncoder();

export function fromJsMsg(message: JsMsg): JobMessage {
  return {
    subject: message.subject,
    seq: message.seq,
    deliveryCount: message.info.deliveryCount,
    json: () => message.json(),
    ackAck: async () => {
      await message.ackAck();
    },
    nak: (delayMs) => message.nak(delayMs && delayMs > 0 ? delayMs : undefined),
    working: () => message.working(),
    term: () => message.term(),
  };
}

/** Delivery count and stream sequence from an ack subject: `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.…` (9
 *  tokens) or, with domain and account hash, `$JS.ACK.<domain>.<hash>.<stream>.<consumer>.<delivered>.<sseq>.…`. */
export function parseAckSubject(reply: string): { deliveryCount: number; seq: number } | null {
  const tokens = reply.split(".");
  if (tokens[0] !== "$JS" || tokens[1] !== "ACK") return null;
  const offset = tokens.length === 9 ? 4 : tokens.length >= 11 ? 6 : -1;
  if (offset < 0) return null;
  const deliveryCount = Number(tokens[offset]);
  const seq = Number(tokens[offset + 1]);
  return Number.isInteger(deliveryCount) && Number.isInteger(seq) ? { deliveryCount, seq } : null;
}

function fromRawMsg(nc: NatsConnection, message: Msg, info: { deliveryCount: number; seq: number }): JobMessage {
  const reply = message.reply ?? "";
  let settled = false;
  const settle = (payload: string) => {
    if (settled) return;
    settled = true;
    message.respond(encoder.encode(payload));
  };
  return {
    subject: message.subject,
    seq: info.seq,
    deliveryCount: info.deliveryCount,
    json: () => message.json(),
    ackAck: async () => {
      if (settled) return;
      settled = true;
      await nc.request(reply, encoder.encode("+ACK"), { timeout: ACK_TIMEOUT_MS });
    },
    nak: (delayMs) => settle(delayMs && delayMs > 0 ? `-NAK ${JSON.stringify({ delay: nanos(delayMs) })}` : "-NAK"),
    working: () => {
      if (!settled) message.respond(encoder.encode("+WPI"));
    },
    term: () => settle("+TERM"),
  };
}

/**
 * Up to `max` messages of a durable pull consumer that are ready now (a `no_wait` pull). Resolves with what arrived
 * once the server ended the request (a status message) or `max` arrived; rejects when nothing answers within
 * `timeoutMs` (messages arriving after that are never acknowledged, so they are redelivered after the ack wait).
 */
export function pullReady(nc: NatsConnection, stream: string, consumer: string, max: number, timeoutMs: number): Promise<JobMessage[]> {
  return new Promise((resolve, reject) => {
    const inbox = createInbox();
    const got: JobMessage[] = [];
    let timer: NodeJS.Timeout | null = null;
    const finish = (error?: Error) => {
      if (timer) clearTimeout(timer);
      subscription.unsubscribe();
      if (error) reject(error);
      else resolve(got);
    };
    const subscription = nc.subscribe(inbox, {
      callback: (error, message) => {
        if (error) return finish(error);
        const info = parseAckSubject(message.reply ?? "");
        if (info === null) {
          // A status: 404 no messages, 408 request ended, 409 consumer gone; 503: nothing serves the consumer.
          if (message.headers?.code === 503) return finish(new Error(`no JetStream consumer ${consumer} on ${stream} answers`));
          return finish();
        }
        got.push(fromRawMsg(nc, message, info));
        if (got.length >= max) finish();
      },
    });
    timer = setTimeout(() => finish(new Error(`no answer to a pull request within ${timeoutMs} ms`)), timeoutMs);
    try {
      nc.publish(`${JS_API_PREFIX}.CONSUMER.MSG.NEXT.${stream}.${consumer}`, encoder.encode(JSON.stringify({ batch: max, no_wait: true })), { reply: inbox });
    } catch (error) {
      finish(error instanceof Error ? error : new Error(String(error)));
    }
  });
}
