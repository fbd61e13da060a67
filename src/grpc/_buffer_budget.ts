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
  const header = new Uint8Array(FRAME_HEADER_BYTES);
  let headerBytes = 0;
  let remaining = 0;
  let held = 0;
  let refused = false;
  const release = () => {
    budget.give(held);
    held = 0;
  };
  const start = (length: number): boolean => {
    if (length > maxMessageBytes) return false;
    if (!budget.take(length)) {
      refused = true;
      refuseStream(stream);
      return false;
    }
    held = length;
    remaining = length;
    return true;
  };
  const onData = (chunk: Buffer) => {
    let offset = 0;
    while (!refused && offset < chunk.length) {
      if (remaining > 0) {
        const n = Math.min(remaining, chunk.length - offset);
        remaining -= n;
        offset += n;
        if (remaining === 0) release();
        continue;
      }
      const n = Math.min(FRAME_HEADER_BYTES - headerBytes, chunk.length - offset);
      header.set(chunk.subarray(offset, offset + n), headerBytes);
      headerBytes += n;
      offset += n;
      if (headerBytes < FRAME_HEADER_BYTES) return;
      headerBytes = 0;
      const length = new DataView(header.buffer).getUint32(1);
      if (length > 0 && !start(length)) {
        stream.off("data", onData);
        return;
      }
    }
  };
  stream.on("data", onData);
  stream.on("close", release);
}
