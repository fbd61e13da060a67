// gRPC messages out of the bytes of an HTTP/2 stream: a 1-byte compressed
// flag, a 4-byte length, the message.
import type { Buffer } from "node:buffer";
import type { BufferBudget } from "./_buffer_budget.ts";
import { FRAME_HEADER_BYTES } from "./_stream_codec.ts";

// gRPC status codes (grpc's `status` enum).
const RESOURCE_EXHAUSTED = 8;
const INTERNAL = 13;

/**
 * Splits a stream's chunks into messages. A message inside one chunk is
 * passed on as a view of it; a longer one is copied, as it arrives, into
 * one buffer of its announced length, so that an unfinished message is one
 * allocation that {@linkcode MessageReader.discard} can give back to the
 * system at once (16 KiB chunks waiting for a collection that an idle node
 * never runs kept ~60 MB resident after a stalled caller left). That buffer
 * is charged to `budget` until the message is whole or discarded; one that
 * does not fit calls `refuse` instead of being buffered. A message over
 * `maxBytes` fails the stream before any of it is buffered.
 */
export class MessageReader {
  #header = new Uint8Array(FRAME_HEADER_BYTES);
  #headerBytes = 0;
  #message: Uint8Array<ArrayBuffer> | undefined;
  #filled = 0;
  #failed = false;

  constructor(
    readonly onMessage: (message: Uint8Array) => void,
    readonly fail: (code: number, message: string) => void,
    readonly maxBytes: number,
    readonly budget: BufferBudget,
    readonly refuse: () => void,
  ) {}

  /** Reads one chunk of the stream. */
  push(chunk: Buffer): void {
    let offset = 0;
    while (!this.#failed && offset < chunk.length) {
      if (this.#message === undefined) {
        offset = this.#readHeader(chunk, offset);
        continue;
      }
      const message = this.#message;
      const n = Math.min(message.length - this.#filled, chunk.length - offset);
      message.set(chunk.subarray(offset, offset + n), this.#filled);
      this.#filled += n;
      offset += n;
      if (this.#filled === message.length) {
        this.#message = undefined;
        this.budget.give(message.length);
        this.onMessage(message);
      }
    }
  }

  /** Frees an unfinished message now: the stream is gone or failed. */
  discard(): void {
    if (this.#message === undefined) return;
    this.budget.give(this.#message.length);
    // Detaching frees the buffer's memory without waiting for a collection.
    this.#message.buffer.transfer(0);
    this.#message = undefined;
  }

  // Reads (the rest of) a header at `offset`, and the whole message when the
  // chunk holds it; returns the offset after what it read.
  #readHeader(chunk: Buffer, offset: number): number {
    const n = Math.min(FRAME_HEADER_BYTES - this.#headerBytes, chunk.length - offset);
    this.#header.set(chunk.subarray(offset, offset + n), this.#headerBytes);
    this.#headerBytes += n;
    offset += n;
    if (this.#headerBytes < FRAME_HEADER_BYTES) return offset;
    this.#headerBytes = 0;
    const length = new DataView(this.#header.buffer).getUint32(1);
    if (this.#header[0] !== 0) {
      this.#stop(INTERNAL, "Received a compressed message without an encoding");
    } else if (length > this.maxBytes) {
      const limit = `max (${length} vs. ${this.maxBytes})`;
      this.#stop(RESOURCE_EXHAUSTED, `Received message larger than ${limit}`);
    } else if (chunk.length - offset >= length) {
      this.onMessage(chunk.subarray(offset, offset + length));
      return offset + length;
    } else if (this.budget.take(length)) {
      this.#message = new Uint8Array(length);
      this.#filled = 0;
    } else {
      this.#failed = true;
      this.refuse();
    }
    return offset;
  }

  #stop(code: number, message: string): void {
    this.#failed = true;
    this.discard();
    this.fail(code, message);
  }
}
