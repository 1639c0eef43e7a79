/**
 * @module bus/ipc-protocol — the messages between a bus client (`connectIpcBus`, e.g. the embedded runner) and the
 * process that owns the bus (`serveBusOverIpc`, the api), over a Node IPC channel (`process.send` / `'message'`)
 * with `serialization: "advanced"` (structured clone: Uint8Array chunks and Dates travel as they are).
 *
 * - `call` (client → server, `id`): one operation of the port; answered by one `result` with the same `id`.
 * - `cast` (client → server, no answer): `nak`, `working`, `term`, stream releases and push acknowledgements.
 * - `push` (server → client, `stream`): an event of a subscription (with `pushId`: the server waits for the client's
 *   `pushed` cast before the next, so a slow handler slows the stream, as on JetStream), a cancellation or heartbeat
 *   of a watch, a dead letter.
 * Every message carries `parmBus: 1`; other messages on the channel are ignored.
 */
import { ContractValidationError, InvalidSubjectTokenError, type ContractIssue } from "../contracts/index.ts";
import { BusArgumentError, BusTransportError } from "./types.ts";

export const PROTOCOL_TAG = 1;

export type Op =
  | "hello"
  | "publishJob"
  | "pullJobs"
  | "watchJobs"
  | "ack"
  | "publishEvent"
  | "readEvents"
  | "subscribeEvents"
  | "unsubscribe"
  | "queueDepth"
  | "cancels.request"
  | "cancels.isRequested"
  | "cancels.watch"
  | "runners.put"
  | "runners.delete"
  | "runners.list"
  | "runners.watch"
  | "artifacts.putOpen"
  | "artifacts.putChunk"
  | "artifacts.putEnd"
  | "artifacts.getOpen"
  | "artifacts.getNext"
  | "artifacts.info"
  | "artifacts.delete"
  | "artifacts.list"
  | "close";

export type CastOp = "nak" | "working" | "term" | "onDeadLetter" | "unsubscribe" | "pushed" | "artifacts.putAbort" | "artifacts.getClose";

export interface CallMessage {
  readonly parmBus: typeof PROTOCOL_TAG;
  readonly t: "call";
  readonly id: number;
  readonly op: Op;
  readonly args: readonly unknown[];
}

export interface CastMessage {
  readonly parmBus: typeof PROTOCOL_TAG;
  readonly t: "cast";
  readonly op: CastOp;
  readonly args: readonly unknown[];
}

export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly contract?: string;
  readonly issues?: readonly ContractIssue[];
  readonly field?: string;
  readonly value?: string;
}

export type ResultMessage =
  | { readonly parmBus: typeof PROTOCOL_TAG; readonly t: "result"; readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly parmBus: typeof PROTOCOL_TAG; readonly t: "result"; readonly id: number; readonly ok: false; readonly error: SerializedError };

export interface PushMessage {
  readonly parmBus: typeof PROTOCOL_TAG;
  readonly t: "push";
  readonly stream: number;
  readonly value: unknown;
  /** Set when the server waits for a `pushed` cast with this id before pushing more on the stream. */
  readonly pushId?: number;
}

export type ClientMessage = CallMessage | CastMessage;
export type ServerMessage = ResultMessage | PushMessage;

/** What `hello` answers. */
export interface HelloValue {
  readonly kind: string;
  readonly settings: unknown;
  /** A Uint8Array: proves the channel keeps binary data (serialization "advanced"). */
  readonly probe: unknown;
}

/** A pulled job as it crosses: `handle` names the delivery in later `ack`/`nak`/`working`/`term`. */
export interface WireDelivery {
  readonly handle: number;
  readonly envelope: unknown;
  readonly subject: string;
  readonly seq: number;
  readonly deliveryCount: number;
}

export function isProtocolMessage(message: unknown): message is { parmBus: number; t: string } {
  return typeof message === "object" && message !== null && (message as { parmBus?: unknown }).parmBus === PROTOCOL_TAG;
}

export function serializeError(error: unknown): SerializedError {
  if (error instanceof ContractValidationError) return { name: error.name, message: error.message, contract: error.contract, issues: error.issues };
  if (error instanceof InvalidSubjectTokenError) return { name: error.name, message: error.message, field: error.field, value: error.value };
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { name: "Error", message: String(error) };
}

/** The typed error a serialized one stands for; the other side's transport and closed-bus errors are transport
 *  errors here (the bus this client talks to is unusable). */
export function deserializeError(error: SerializedError, action: string): Error {
  switch (error.name) {
    case "ContractValidationError":
      return new ContractValidationError(error.contract ?? "value", error.issues ?? []);
    case "InvalidSubjectTokenError":
      return new InvalidSubjectTokenError(error.field ?? "id", error.value ?? "");
    case "BusArgumentError":
      return new BusArgumentError(error.message);
    case "BusClosedError":
      return new BusTransportError(`${action}: the bus of the process this one talks to is closed`);
    default:
      return new BusTransportError(`${action}: ${error.message}`);
  }
}

/** The two ends of a Node IPC channel look alike: `process` in a child started with one, or the parent's
 *  ChildProcess. */
export interface IpcEndpoint {
  send(message: unknown, callback: (error: Error | null) => void): boolean;
  on(event: "message", listener: (message: unknown) => void): unknown;
  on(event: "disconnect", listener: () => void): unknown;
  off(event: "message", listener: (message: unknown) => void): unknown;
  off(event: "disconnect", listener: () => void): unknown;
  readonly connected: boolean;
}

/* eslint-disable @typescript-eslint/no-explicit-any -- the shapes of `process` and ChildProcess, overloads and all */
interface IpcTarget {
  send?: (...args: any[]) => boolean;
  on(event: string, listener: (...args: any[]) => void): unknown;
  off(event: string, listener: (...args: any[]) => void): unknown;
  readonly connected?: boolean;
}
/* eslint-enable @typescript-eslint/no-explicit-any */

/** The IPC endpoint of `target` (`process`, or a ChildProcess spawned with an "ipc" stdio entry). Throws
 *  BusArgumentError when it has no IPC channel. */
export function ipcEndpoint(target: IpcTarget): IpcEndpoint {
  const send = target.send;
  if (typeof send !== "function") throw new BusArgumentError("this process has no IPC channel (start it with an \"ipc\" stdio entry, as npm start does)");
  return {
    send: (message, callback) => (send as (m: unknown, cb: (e: Error | null) => void) => boolean).call(target, message, callback),
    on: (event: string, listener: (...args: unknown[]) => void) => target.on(event, listener),
    off: (event: string, listener: (...args: unknown[]) => void) => target.off(event, listener),
    get connected() {
      return target.connected !== false;
    },
  } as IpcEndpoint;
}

/** Sends `message`, resolving once it was handed to the channel; a closed channel rejects. */
export function sendMessage(endpoint: IpcEndpoint, message: ClientMessage | ServerMessage): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!endpoint.connected) {
      reject(new BusTransportError("the IPC channel is closed"));
      return;
    }
    try {
      endpoint.send(message, (error) => (error ? reject(new BusTransportError(`IPC send failed: ${error.message}`, { cause: error })) : resolve()));
    } catch (error) {
      reject(new BusTransportError(`IPC send failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error }));
    }
  });
}
