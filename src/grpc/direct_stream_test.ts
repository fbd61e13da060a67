// GetStream served on the HTTP/2 stream directly, past grpc-js's server,
// seen from a bare node:http2 client: what grpc-js would check and answer
// is checked and answered here too. grpc-js leaves timers and sockets behind
// after close, so these tests turn the op and resource sanitizers off.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import http2 from "node:http2";
import * as grpc from "@grpc/grpc-js";
import { GroupRegistry } from "../registry.ts";
import { Group } from "../group.ts";
import { GET_STREAM_PATH } from "./_direct_stream.ts";
import { NODE_METADATA_KEY } from "./_item_stream.ts";
import { MAX_MESSAGE_BYTES } from "../limits.ts";
import type { Item, ItemResult } from "./messages.ts";
import { decodeResultBatch, encodeItemBatch } from "./_stream_codec.ts";
import { cluster, serveOnFreePort } from "./_testing.ts";
import { waitFor } from "../_testing/wait.ts";
import { privateHooksOn } from "./_direct_stream.ts";

const sanitizers = { sanitizeOps: false, sanitizeResources: false };

interface Answer {
  headers: http2.IncomingHttpHeaders;
  results: ItemResult[];
  trailers: http2.IncomingHttpHeaders;
}

/** A gRPC frame: a compressed flag, a 4-byte length, the message. */
function frame(message: Uint8Array, flag = 0): Buffer {
  const header = Buffer.alloc(5);
  header[0] = flag;
  header.writeUInt32BE(message.length, 1);
  return Buffer.concat([header, message]);
}

function item(id: number, key: string, group = "g"): Item {
  return { id, group, key, timeout_ms: 0 };
}

/** Opens a GetStream on `addr` with the headers a gRPC client sends. */
function requestGetStream(
  addr: string,
  headers: http2.OutgoingHttpHeaders = {},
): { session: http2.ClientHttp2Session; stream: http2.ClientHttp2Stream } {
  const session = http2.connect(`http://${addr}`);
  const stream = session.request({
    ":method": "POST",
    ":path": GET_STREAM_PATH,
    "content-type": "application/grpc",
    te: "trailers",
    ...headers,
  });
  return { session, stream };
}

/**
 * Calls GetStream on `addr`, writes `pieces` one by one (each its own HTTP/2
 * DATA frame), half-closes, and reads the answer until the trailers.
 */
async function callGetStream(
  addr: string,
  pieces: Uint8Array[],
  headers: http2.OutgoingHttpHeaders = {},
): Promise<Answer> {
  const { session, stream } = requestGetStream(addr, headers);
  try {
    const response = new Promise<http2.IncomingHttpHeaders>((resolve) =>
      stream.once("response", resolve)
    );
    const trailers = new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
      stream.once("trailers", resolve);
      stream.once("error", reject);
      stream.once("close", () => reject(new Error("Closed without trailers")));
    });
    const chunks: Buffer[] = [];
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    for (const piece of pieces) {
      await new Promise<void>((resolve, reject) =>
        stream.write(piece, (error) => error ? reject(error) : resolve())
      );
    }
    stream.end();
    const answer = { headers: await response, trailers: await trailers };
    const results: ItemResult[] = [];
    let bytes = Buffer.concat(chunks);
    while (bytes.length > 0) {
      const length = bytes.readUInt32BE(1);
      results.push(...decodeResultBatch(bytes.subarray(5, 5 + length)).results);
      bytes = bytes.subarray(5 + length);
    }
    return { ...answer, results };
  } finally {
    session.close();
  }
}

function texts(results: ItemResult[]): [number, string][] {
  return results.map((r) => [r.id, new TextDecoder().decode(r.value)]);
}

Deno.test({
  ignore: !privateHooksOn(),
  name: "GetStream is served past grpc-js, with gRPC's headers, framing and status",
  ...sanitizers,
  async fn() {
    await using nodes = await cluster(1);
    const [node] = nodes;
    await node.registry.get("g")!.set("hit", "cached");
    const batch = frame(encodeItemBatch({ items: [item(1, "hit"), item(2, "miss")] }));
    const answer = await callGetStream(node.addr, [batch]);
    assert.equal(answer.headers[":status"], 200);
    assert.equal(answer.headers["content-type"], "application/grpc");
    assert.equal(answer.headers[NODE_METADATA_KEY], node.addr);
    // grpc-js's server sends its encodings with every response; this path does not.
    assert.equal(answer.headers["grpc-accept-encoding"], undefined);
    assert.deepEqual(texts(answer.results), [[1, "cached"], [2, "value of miss"]]);
    assert.equal(answer.trailers["grpc-status"], "0");
    assert.deepEqual(node.loads, ["miss"]);
  },
});

Deno.test({
  name: "Messages split over many DATA frames, and several in one, are each read once",
  ...sanitizers,
  async fn() {
    await using nodes = await cluster(1);
    const bytes = Buffer.concat([
      frame(encodeItemBatch({ items: [item(1, "a"), item(2, "b")] })),
      frame(encodeItemBatch({ items: [item(3, "c")] })),
    ]);
    // 3 bytes a piece: frame headers are split too.
    const pieces = Array.from(
      { length: Math.ceil(bytes.length / 3) },
      (_, i) => bytes.subarray(i * 3, i * 3 + 3),
    );
    const split = await callGetStream(nodes[0].addr, pieces);
    assert.deepEqual(texts(split.results).sort(), [[1, "value of a"], [2, "value of b"], [
      3,
      "value of c",
    ]]);
    const whole = await callGetStream(nodes[0].addr, [bytes]);
    assert.deepEqual(texts(whole.results).sort(), texts(split.results).sort());
    assert.equal(whole.trailers["grpc-status"], "0");
  },
});

Deno.test({
  ignore: !privateHooksOn(),
  name: "A bad message fails its stream with grpc-js's status, and the node keeps serving",
  ...sanitizers,
  async fn(t) {
    await using nodes = await cluster(1);
    const { addr } = nodes[0];
    const tooBig = Buffer.alloc(5);
    tooBig.writeUInt32BE(MAX_MESSAGE_BYTES + 1, 1);
    const cases: [string, Uint8Array, string][] = [
      ["over the message limit (not buffered)", tooBig, "8"],
      ["compressed without an encoding", frame(new Uint8Array([0x0a, 0x00]), 1), "13"],
      ["not a GetBatch", frame(new Uint8Array([0x0a, 0x7f, 0x08])), "13"],
    ];
    for (const [name, bytes, status] of cases) {
      await t.step(name, async () => {
        const answer = await callGetStream(addr, [bytes]);
        assert.equal(answer.trailers["grpc-status"], status);
        assert.ok(String(answer.trailers["grpc-message"]).length > 0);
        assert.deepEqual(answer.results, []);
      });
    }
    const after = await callGetStream(addr, [frame(encodeItemBatch({ items: [item(1, "k")] }))]);
    assert.deepEqual(texts(after.results), [[1, "value of k"]]);
  },
});

Deno.test({
  name: "A GetStream with a deadline is left to grpc-js, which keeps it",
  ...sanitizers,
  async fn() {
    await using nodes = await cluster(1);
    const batch = frame(encodeItemBatch({ items: [item(1, "k")] }));
    const answer = await callGetStream(nodes[0].addr, [batch], { "grpc-timeout": "5S" });
    assert.equal(answer.headers["grpc-accept-encoding"], "identity,deflate,gzip");
    assert.equal(answer.headers[NODE_METADATA_KEY], nodes[0].addr);
    assert.deepEqual(texts(answer.results), [[1, "value of k"]]);
    assert.equal(answer.trailers["grpc-status"], "0");
  },
});

Deno.test({
  name:
    "A stream the node ends while its reply waits for 'drain' still closes once the caller ends",
  ...sanitizers,
  async fn() {
    const started = Promise.withResolvers<void>();
    const release = Promise.withResolvers<void>();
    const big = new Uint8Array(1 << 20).fill(7);
    await using nodes = await cluster(1, 0, async () => {
      started.resolve();
      await release.promise;
      return big;
    });
    const { session, stream } = requestGetStream(nodes[0].addr);
    try {
      stream.on("error", () => {});
      let closed = false;
      stream.once("close", () => closed = true);
      const replying = new Promise<void>((resolve) => stream.once("data", () => resolve()));
      stream.write(frame(encodeItemBatch({ items: [item(1, "big")] })));
      await started.promise;
      // A stopping node ends its streams; the 1 MiB reply then fills the
      // stream's buffer, and the node ends it in the same turn.
      nodes[0].services.endStreams();
      release.resolve();
      await replying;
      // More than a flow-control window that the caller sent before it
      // saw the end: only once the node reads it can the caller's end arrive.
      stream.end(frame(encodeItemBatch({ items: [item(2, "k".repeat(256 << 10))] })));
      await waitFor(() => closed, "the stream closes", 5000);
      assert.equal(stream.rstCode, http2.constants.NGHTTP2_NO_ERROR);
    } finally {
      session.destroy();
    }
  },
});

Deno.test({
  ignore: !privateHooksOn(),
  name: "A server with interceptors, or a smaller message limit, has them kept on GetStream",
  ...sanitizers,
  async fn(t) {
    const registry = new GroupRegistry();
    new Group({ name: "g", maxBytes: 1 << 20, registry, getter: (key) => `value of ${key}` });
    const batch = frame(encodeItemBatch({ items: [item(1, "k")] }));
    await t.step("interceptors: grpc-js serves it and runs them", async () => {
      const intercepted: string[] = [];
      const interceptor = (
        method: grpc.ServerMethodDefinition<unknown, unknown>,
        call: grpc.ServerInterceptingCallInterface,
      ) => {
        intercepted.push(method.path);
        return new grpc.ServerInterceptingCall(call);
      };
      const { server, addr } = await serveOnFreePort(registry, undefined, {
        interceptors: [interceptor],
      });
      try {
        const answer = await callGetStream(addr, [batch]);
        assert.deepEqual(texts(answer.results), [[1, "value of k"]]);
        assert.deepEqual(intercepted, [GET_STREAM_PATH]);
      } finally {
        server.forceShutdown();
      }
    });
    await t.step("grpc.max_receive_message_length: the direct path keeps it", async () => {
      const { server, addr } = await serveOnFreePort(registry, undefined, {
        "grpc.max_receive_message_length": 1024,
      });
      try {
        const small = await callGetStream(addr, [batch]);
        assert.equal(small.headers["grpc-accept-encoding"], undefined);
        assert.deepEqual(texts(small.results), [[1, "value of k"]]);
        const large = await callGetStream(addr, [
          frame(encodeItemBatch({ items: [item(1, "k".repeat(2048))] })),
        ]);
        assert.equal(large.trailers["grpc-status"], "8");
      } finally {
        server.forceShutdown();
      }
    });
  },
});
