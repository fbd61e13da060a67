import assert from "node:assert/strict";
import protobuf from "protobufjs";
import { mccache } from "./_descriptors.ts";
import {
  decodeItemBatch,
  decodeResultBatch,
  encodeItemBatch,
  encodeResultBatch,
  ITEM_FIELDS,
  REPEATED_FIELD,
  RESULT_FIELDS,
} from "./_stream_codec.ts";

// The reference: protobufjs with the embedded descriptors of proto/mccache.proto.
const root = protobuf.Root.fromJSON(mccache as protobuf.INamespace);
const ItemBatch = root.lookupType("mccache.v1.GetBatch");
const ResultBatch = root.lookupType("mccache.v1.GetResults");

const items = [
  { id: 1, group: "scores", key: "Rex", timeout_ms: 2000 },
  { id: 300, group: "g", key: "日本語 ✓", timeout_ms: 0 },
  { id: 4_294_967_295, group: "long", key: "k".repeat(5000), timeout_ms: 4_294_967_295 },
  { id: 7, group: "", key: "", timeout_ms: 1 },
  // A gateway's writes: op SET (1) and REMOVE (2).
  {
    id: 8,
    group: "g",
    key: "w",
    timeout_ms: 500,
    op: 1,
    value: new Uint8Array([5, 6]),
    ttl_ms: 2 ** 40,
    local: true,
  },
  { id: 9, group: "g", key: "r", timeout_ms: 500, op: 2, local: true },
];

const results = [
  { id: 1, value: new Uint8Array([1, 2, 3]), ttl_ms: 60_000, code: 0, error: "", error_name: "" },
  { id: 2, value: new Uint8Array(0), ttl_ms: 0, code: 0, error: "", error_name: "" },
  {
    id: 3,
    value: new Uint8Array(0),
    ttl_ms: 0,
    code: 5,
    error: "Tom not exist",
    error_name: "NotFoundError",
  },
  {
    id: 4,
    value: new Uint8Array(70_000).fill(9),
    ttl_ms: 2 ** 40,
    code: 0,
    error: "",
    error_name: "",
  },
  {
    id: 5,
    value: new Uint8Array(0),
    ttl_ms: 0,
    code: 2,
    error: "origin: ünïcode",
    error_name: "Error",
  },
  // The owner's answer to a write it did alone.
  {
    id: 6,
    value: new Uint8Array(0),
    ttl_ms: 0,
    code: 0,
    error: "",
    error_name: "",
    owner_only: true,
  },
];

function normalize(message: protobuf.Message, type: protobuf.Type) {
  return type.toObject(message, { longs: Number, defaults: true, bytes: Array });
}

Deno.test("The GetStream codec writes the bytes protobufjs reads", () => {
  assert.deepEqual(
    normalize(ItemBatch.decode(encodeItemBatch({ items })), ItemBatch),
    normalize(ItemBatch.fromObject({ items }), ItemBatch),
  );
  assert.deepEqual(
    normalize(ResultBatch.decode(encodeResultBatch({ results })), ResultBatch),
    normalize(ResultBatch.fromObject({ results }), ResultBatch),
  );
});

Deno.test("The GetStream codec reads the bytes protobufjs writes", () => {
  assert.deepEqual(decodeItemBatch(ItemBatch.encode(ItemBatch.fromObject({ items })).finish()), {
    items,
  });
  const decoded = decodeResultBatch(
    ResultBatch.encode(ResultBatch.fromObject({ results })).finish(),
  );
  assert.deepEqual(
    decoded.results.map((r) => ({ ...r, value: [...r.value] })),
    results.map((r) => ({ ...r, value: [...r.value] })),
  );
});

Deno.test("The GetStream codec copies values out of the message and skips unknown fields", () => {
  const message = encodeResultBatch({ results: [results[0]] });
  // An unknown field 15 (varint 42) appended inside the result, as a newer peer might send.
  const withUnknown = new Uint8Array([0x0a, message[1] + 2, ...message.subarray(2), 0x78, 42]);
  const decoded = decodeResultBatch(withUnknown).results[0];
  assert.deepEqual([...decoded.value], [1, 2, 3]);
  withUnknown.fill(0);
  assert.deepEqual([...decoded.value], [1, 2, 3]);
  assert.throws(() => decodeResultBatch(new Uint8Array([0x0a, 10, 0x08])), RangeError);
  // A truncated fixed64 field (wire type 1) of an unknown number.
  assert.throws(() => decodeResultBatch(new Uint8Array([0x0a, 3, 0x08, 1, 0x79])), RangeError);
});

Deno.test("The gRPC service definition uses the hand-written GetStream codec on both ends", async () => {
  const { CacheClient } = await import("./_proto.ts");
  const method = CacheClient.service.GetStream;
  assert.equal(method.requestSerialize, encodeItemBatch);
  assert.equal(method.responseDeserialize, decodeResultBatch);
  // Client methods keep the serializers they were made with.
  const client = new CacheClient(
    "127.0.0.1:1",
    (await import("@grpc/grpc-js")).credentials.createInsecure(),
  );
  const stub = (client as unknown as { GetStream: { requestSerialize: unknown } }).GetStream;
  assert.equal(stub.requestSerialize, encodeItemBatch);
  client.close();
});

Deno.test("The GetStream codec's field numbers are those of proto/mccache.proto, field by field", () => {
  const fields = (type: string) =>
    Object.fromEntries(root.lookupType(type).fieldsArray.map((f) => [f.name, f.id]));
  assert.deepEqual(fields("mccache.v1.GetItem"), { ...ITEM_FIELDS });
  assert.deepEqual(fields("mccache.v1.GetResult"), { ...RESULT_FIELDS });
  assert.deepEqual(fields("mccache.v1.GetBatch"), { items: REPEATED_FIELD });
  assert.deepEqual(fields("mccache.v1.GetResults"), { results: REPEATED_FIELD });
});
