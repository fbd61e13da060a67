// The bytes a node holds for gRPC messages that are still arriving, for all
// its streams together (--max-buffered-bytes). A message's bytes wait in
// memory until it is whole: without a bound, 8 callers that each sent most
// of a 60 MB message and stalled took a node from 128 to 621 MB.
import type { Buffer } from "node:buffer";
import type * as http2 from "node:http2";
import { FRAME_HEADER_BYTES } from "./_stream_codec.ts";

// RST_STREAM code that grpc-js clients report as RESOURCE_EXHAUSTED
// ("Bandwidth exhausted or memory limit exceeded"). A reset, unlike an
// error status in trailers, also stops the caller's remaining bytes.
const NGHTTP2_ENHANCE_YOUR_CALM = 0xb;

/** A node-wide budget of bytes that incoming messages may hold. */
export class BufferBudget {
  #used = 0;
  #refused = 0;

  constructor(readonly limit: number) {}

  /** Bytes held now. */
  get used(): number {
    return this.#used;
  }

  /** Messages refused so far because they did not fit. */
  get refused(): number {
    return this.#refused;
  }

  /** Takes `bytes` if they fit, else counts a refusal. */
  take(bytes: number): boolean {
    if (this.#used + bytes > this.limit) {
      this.#refused++;
      return false;
    }
    this.#used += bytes;
    return true;
  }

  /** Gives back bytes taken. */
  give(bytes: number): void {
    this.#used -= bytes;
  }
}

/** Resets `stream` as a node does when its budget has no room for the stream's message. */
export function refuseStream(stream: http2.ServerHttp2Stream): void {
  if (!stream.destroyed) stream.close(NGHTTP2_ENHANCE_YOUR_CALM);
}

/**
 * Charges each message arriving on a stream that grpc-js serves to `budget`
 * in full as soon as its length is known, and gives it back once the message
 * is whole (grpc-js has it then) or the stream closes. A message that does not
 * fit resets the stream before its bytes arrive. Messages over
 * `maxMessageBytes` are left to the stream's reader, which refuses them
 * unbuffered with a status of its own.
 */
export function meterStream(
  stream: http2.ServerHttp2Stream,
  budget: BufferBudget,
  maxMessageBytes: number,
): void {
  const meter = new StreamMeter(stream, budget, maxMessageBytes);
  stream.on("data", meter.onData);
  stream.on("close", meter.release);
}

// One stream's meter: it follows the gRPC frames in the stream's DATA (a
// 5-byte header with the message's length, then the message) and holds each
// message's length in the budget until its last byte has gone by.
class StreamMeter {
  readonly #header = new Uint8Array(FRAME_HEADER_BYTES);
  #headerBytes = 0;
  // Bytes of the current message still to come.
  #remaining = 0;
  // Bytes of the budget this stream holds now.
  #held = 0;
  #refused = false;

  constructor(
    readonly stream: http2.ServerHttp2Stream,
    readonly budget: BufferBudget,
    readonly maxMessageBytes: number,
  ) {}

  // Arrow functions: they are the stream's listeners, and onData takes
  // itself off the stream.
  readonly onData = (chunk: Buffer): void => {
    let offset = 0;
    while (!this.#refused && offset < chunk.length) {
      if (this.#remaining > 0) {
        offset += this.#passBody(chunk.length - offset);
        continue;
      }
      offset += this.#readHeader(chunk, offset);
      if (this.#headerBytes < FRAME_HEADER_BYTES) return;
      this.#headerBytes = 0;
      const length = new DataView(this.#header.buffer).getUint32(1);
      if (length > 0 && !this.#start(length)) {
        this.stream.off("data", this.onData);
        return;
      }
    }
  };

  readonly release = (): void => {
    this.budget.give(this.#held);
    this.#held = 0;
  };

  // Lets up to `available` bytes of the message go by; once its last has,
  // grpc-js holds the whole message and the budget gets its bytes back.
  #passBody(available: number): number {
    const n = Math.min(this.#remaining, available);
    this.#remaining -= n;
    if (this.#remaining === 0) this.release();
    return n;
  }

  // Copies what the chunk holds of a frame header, which may span chunks.
  #readHeader(chunk: Buffer, offset: number): number {
    const n = Math.min(FRAME_HEADER_BYTES - this.#headerBytes, chunk.length - offset);
    this.#header.set(chunk.subarray(offset, offset + n), this.#headerBytes);
    this.#headerBytes += n;
    return n;
  }

  // Charges a message of `length` bytes; false stops metering the stream:
  // the message is over maxMessageBytes (its reader refuses it), or does
  // not fit and the stream is reset.
  #start(length: number): boolean {
    if (length > this.maxMessageBytes) return false;
    if (!this.budget.take(length)) {
      this.#refused = true;
      refuseStream(this.stream);
      return false;
    }
    this.#held = length;
    this.#remaining = length;
    return true;
  }
}
