// GetStream served on the HTTP/2 stream itself, past grpc-js's server.
//
// Why: GetStream carries every get a gateway sends, and grpc-js's server
// layers (call objects, interceptors, per-message events and buffers) cost a
// node ~30 µs of CPU per message on top of Deno's node:http2. Served directly,
// nodes took 17.0 -> 14.3 µs of CPU per request in the cluster benchmark's
// scenario b (+8% req/s; two sets of 3 nodes side by side, 64 connections).
// The bytes on the wire are gRPC's: the same framing, headers and trailers, so
// any gRPC client can call it. Every other method, any GetStream that asks for something this
// path does not do (a deadline, compression), and every stream of a server
// with interceptors are left to grpc-js.
import type { Buffer } from "node:buffer";
import type * as http2 from "node:http2";
import { decodeItemBatch, encodeResultBatch, FRAME_HEADER_BYTES } from "./_stream_codec.ts";
import { MessageReader } from "./_frames.ts";
import {
  type ItemStreamSession,
  NODE_METADATA_KEY,
  openItemStream,
  type ReplySink,
  type StreamServing,
} from "./_item_stream.ts";
import type { ItemResult } from "./messages.ts";
import { type BufferBudget, meterStream, refuseStream } from "./_buffer_budget.ts";

/** The path a gRPC client calls GetStream by. */
export const GET_STREAM_PATH = "/mccache.v1.Cache/GetStream";

// gRPC status codes (grpc's `status` enum).
const INTERNAL = 13;

type StreamListener = (
  stream: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
  ...rest: unknown[]
) => void;

// The parts of grpc-js's Server (1.14) this file relies on; none is public.
interface ServerInternals {
  _setupHandlers?: (http2Server: http2.Http2Server | null, ...rest: unknown[]) => void;
  /** Interceptors given in the server's options. */
  interceptors?: unknown[];
  /** The server's options. */
  options?: Record<string, unknown>;
  /** Counts a stream for `grpc.max_connection_idle_ms`. */
  onStreamOpened?: (stream: http2.ServerHttp2Stream) => void;
}

/** grpc-js's default for `grpc.max_receive_message_length`. */
const DEFAULT_MAX_RECEIVE_BYTES = 4 << 20;

/**
 * Makes `server` serve GetStream directly on every port bound from now on,
 * and charges the messages arriving on every stream, whoever serves it, to
 * `budget`. grpc-js gives no public hook into its HTTP/2 server, so this
 * wraps the private method that adds its 'stream' listener to each one it
 * creates, and reads the server's interceptors, options and idle-stream
 * count as grpc-js keeps them. Without that method grpc-js serves every
 * stream, as before (grpc-js is pinned in deno.json, and a test fails if
 * GetStream stops coming this way).
 */
export function serveStreams(
  server: object,
  serving: StreamServing,
  budget: BufferBudget,
): void {
  if (!privateHooksOn()) return;
  const internals = server as unknown as ServerInternals;
  const setup = internals._setupHandlers;
  if (typeof setup !== "function") return;
  internals._setupHandlers = function (this: ServerInternals, http2Server, ...rest) {
    setup.call(this, http2Server, ...rest);
    if (http2Server === null) return;
    // Interceptors (the server's, or its credentials' in rest[0]) are the
    // user's code around every call: only grpc-js runs them.
    const [credentialInterceptors] = rest;
    const direct = (this.interceptors?.length ?? 0) === 0 &&
      !(Array.isArray(credentialInterceptors) && credentialInterceptors.length > 0);
    const limit = this.options?.["grpc.max_receive_message_length"] ?? DEFAULT_MAX_RECEIVE_BYTES;
    const maxMessageBytes = limit === -1 ? Infinity : Number(limit);
    const grpcListeners = http2Server.listeners("stream") as StreamListener[];
    http2Server.removeAllListeners("stream");
    const route: StreamListener = (stream, headers, ...more) => {
      if (direct && headers[":path"] === GET_STREAM_PATH && servable(headers)) {
        this.onStreamOpened?.(stream);
        serveStream(stream, { ...serving, maxMessageBytes, budget });
        return;
      }
      for (const listener of grpcListeners) listener.call(http2Server, stream, headers, ...more);
      // After grpc-js's listeners: a message too large for grpc-js gets its
      // own status, not a reset.
      meterStream(stream, budget, maxMessageBytes);
    };
    http2Server.on("stream", route);
  };
}

/**
 * The switch that turns the seam off: with `GRPC_MCCACHE_DIRECT_STREAM=off`
 * in the environment (a `GRPC_` name, so the nodes' documented
 * `--allow-env=GRPC_*` lets them read it), grpc-js serves every stream and
 * no private grpc-js API is touched. The test suite runs both ways.
 */
export const DIRECT_STREAM_ENV = "GRPC_MCCACHE_DIRECT_STREAM";

/** Whether the direct GetStream (and the byte budget it meters) is on. */
export function privateHooksOn(): boolean {
  const deno = (globalThis as { Deno?: typeof Deno }).Deno;
  const query = { name: "env", variable: DIRECT_STREAM_ENV } as const;
  if (deno?.permissions.querySync?.(query).state !== "granted") return true;
  return deno.env.get(DIRECT_STREAM_ENV) !== "off";
}

// What grpc-js would answer differently: a deadline to keep, compressed
// messages, or a request that is not gRPC at all.
function servable(headers: http2.IncomingHttpHeaders): boolean {
  const encoding = headers["grpc-encoding"];
  return headers["grpc-timeout"] === undefined &&
    (encoding === undefined || encoding === "identity") &&
    headers[":method"] === "POST" &&
    (headers["content-type"]?.startsWith("application/grpc") ?? false);
}

interface StreamContext extends StreamServing {
  maxMessageBytes: number;
  budget: BufferBudget;
}

function serveStream(stream: http2.ServerHttp2Stream, context: StreamContext): void {
  // A reset or broken connection: 'close' follows, nothing to answer.
  stream.on("error", () => {});
  if (stream.destroyed || stream.closed) return; // reset as it arrived
  new DirectStream(stream, context);
}

/**
 * One GetStream on its HTTP/2 stream: gRPC's headers, framing and trailers
 * around an item stream session, which writes its replies here.
 */
class DirectStream implements ReplySink {
  #stream: http2.ServerHttp2Stream;
  #status = { code: 0, message: "" };
  #ended = false;
  #session: ItemStreamSession;

  constructor(stream: http2.ServerHttp2Stream, context: StreamContext) {
    this.#stream = stream;
    this.#respond(context.self);
    this.#session = openItemStream(context, this);
    const reader = new MessageReader(
      (message) => this.#read(message),
      this.#fail,
      context.maxMessageBytes,
      context.budget,
      () => refuseStream(stream),
    );
    stream.on("data", (chunk: Buffer) => reader.push(chunk));
    stream.on("end", this.#session.end);
    stream.on("close", () => {
      reader.discard();
      this.#session.leave();
    });
  }

  write(results: ItemResult[]): boolean {
    if (this.#ended) return true;
    const frame = encodeResultBatch({ results }, FRAME_HEADER_BYTES);
    frame[0] = 0; // not compressed
    frame.writeUInt32BE(frame.length - FRAME_HEADER_BYTES, 1);
    return this.#stream.write(frame);
  }

  pauseUntilDrained(resume: () => void): void {
    this.#stream.pause();
    this.#stream.once("drain", () => {
      resume();
      this.#stream.resume();
    });
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#stream.destroyed) return;
    this.#stream.end();
    // A stream paused for 'drain' gets none once ended: reading on drops
    // the caller's late batches, so that its own end can arrive and the
    // stream close (or a stopping node would wait for it).
    this.#stream.resume();
  }

  get closed(): boolean {
    return this.#stream.destroyed || this.#stream.closed;
  }

  #respond(self: string): void {
    this.#stream.respond(
      { ":status": 200, "content-type": "application/grpc", [NODE_METADATA_KEY]: self },
      { waitForTrailers: true },
    );
    this.#stream.on("wantTrailers", () => {
      const { code, message } = this.#status;
      const trailers: http2.OutgoingHttpHeaders = { "grpc-status": String(code) };
      if (message) trailers["grpc-message"] = encodeURI(message);
      this.#stream.sendTrailers(trailers);
    });
  }

  #read(message: Uint8Array): void {
    // Batches that come after the node ended the stream are not answered:
    // the caller sends them again on its next stream.
    if (this.#ended) return;
    let batch;
    try {
      batch = decodeItemBatch(message);
    } catch (error) {
      return this.#fail(INTERNAL, `Cannot read a GetBatch: ${(error as Error).message}`);
    }
    this.#session.receive(batch);
  }

  // The stream fails as grpc-js's would: the status goes in the trailers,
  // and no more of the caller's batches are read. A field: the reader calls it.
  #fail = (code: number, message: string): void => {
    if (this.#ended) return;
    this.#status = { code, message };
    this.#session.leave();
    this.end();
  };
}
