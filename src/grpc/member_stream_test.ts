// MemberStream against a fake call whose node stopped reading: write()
// returns false, and 'drain' comes only when a test emits it.
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import type * as grpc from "@grpc/grpc-js";
import { PeerError } from "../errors.ts";
import { MemberStream, type PendingRequest } from "./_member_stream.ts";

class StalledCall extends EventEmitter {
  writes = 0;
  writesAfterEnd = 0;
  ended = false;
  /** What write() returns: false = the buffer is full. */
  accepts = false;
  write(): boolean {
    this.writes++;
    if (this.ended) this.writesAfterEnd++;
    return this.accepts;
  }
  end(): void {
    this.ended = true;
  }
  getPeer(): string {
    return "127.0.0.1:1";
  }
}

function stalledStream(): { stream: MemberStream; call: StalledCall } {
  const call = new StalledCall();
  const client = { GetStream: () => call } as unknown as grpc.Client;
  const events = { closed: () => {} };
  const stream = new MemberStream(client, "127.0.0.1:1", { hash: 0, attempt: 0 }, events);
  return { stream, call };
}

function request(value?: Uint8Array): PendingRequest & { error?: unknown } {
  const w: PendingRequest & { error?: unknown } = {
    id: 0,
    group: "g",
    key: "k",
    ...(value ? { op: 1, value } : {}),
    deadline: Date.now() + 60_000,
    retried: false,
    redirects: 0,
    resolve: () => {},
    reject: (error) => w.error = error,
  };
  return w;
}

Deno.test("A stream to a node that stops reading queues at most 64 MiB of values, then fails writes at once", () => {
  const { stream, call } = stalledStream();
  stream.send(1, request());
  stream.flush(); // the write that finds the buffer full
  assert.equal(call.writes, 1);
  const mib = new Uint8Array(1 << 20);
  const puts = Array.from({ length: 70 }, () => request(mib));
  puts.forEach((put, i) => stream.send(i + 2, put));
  const refused = puts.filter((put) => put.error instanceof PeerError);
  assert.equal(refused.length, 70 - 64);
  // Small gets still queue (up to the item cap).
  const get = request();
  stream.send(100, get);
  assert.equal(get.error, undefined);
  stream.flush();
  assert.equal(call.writes, 1); // nothing more is written until 'drain'
});

Deno.test("A stream retired while its node is not reading ends only after 'drain' has written the rest", () => {
  const { stream, call } = stalledStream();
  stream.send(1, request());
  stream.flush(); // fills the buffer
  stream.send(2, request());
  stream.send(3, request());
  stream.retire();
  assert.equal(call.ended, false); // two gets still queued
  call.accepts = true;
  call.emit("drain");
  assert.equal(call.writes, 2); // the queued gets, in one message
  assert.equal(call.ended, true);
  assert.equal(call.writesAfterEnd, 0);
});
