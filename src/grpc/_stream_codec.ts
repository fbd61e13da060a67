// Hand-written protobuf codec for the GetStream messages (GetBatch and
// GetResults of proto/mccache.proto; ItemBatch and ResultBatch here), the gateway's hot path. Same bytes as
// protobufjs; it skips the intermediate objects protobufjs + proto-loader
// make per message (decode, then toObject) and copies each value once.
// codec_test.ts checks both directions against protobufjs.
import { Buffer } from "node:buffer";
import { utf8Length } from "../utf8.ts";
import type { Item, ItemBatch, ItemResult, ResultBatch } from "./messages.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Item's field numbers, as GetItem's in proto/mccache.proto (codec_test.ts checks them). */
export const ITEM_FIELDS = {
  id: 1,
  group: 2,
  key: 3,
  timeout_ms: 4,
  op: 5,
  value: 6,
  ttl_ms: 7,
  local: 8,
} as const;
/** ItemResult's field numbers, as GetResult's, likewise. */
export const RESULT_FIELDS = {
  id: 1,
  value: 2,
  ttl_ms: 3,
  code: 4,
  error: 5,
  error_name: 6,
  owner_only: 7,
} as const;
/** The one field of ItemBatch (items) and of ResultBatch (results). */
export const REPEATED_FIELD = 1;

// A field's tag: (field number << 3) | wire type (0 = varint, 2 = length-delimited).
const varint = (field: number) => field << 3;
const len = (field: number) => (field << 3) | 2;

const TAG_REPEATED = len(REPEATED_FIELD);
const TAG_ID = varint(ITEM_FIELDS.id); // the same in ItemResult
const TAG_GROUP = len(ITEM_FIELDS.group);
const TAG_KEY = len(ITEM_FIELDS.key);
const TAG_TIMEOUT = varint(ITEM_FIELDS.timeout_ms);
const TAG_OP = varint(ITEM_FIELDS.op);
const TAG_ITEM_VALUE = len(ITEM_FIELDS.value);
const TAG_ITEM_TTL = varint(ITEM_FIELDS.ttl_ms);
const TAG_LOCAL = varint(ITEM_FIELDS.local);
const TAG_VALUE = len(RESULT_FIELDS.value);
const TAG_TTL = varint(RESULT_FIELDS.ttl_ms);
const TAG_CODE = varint(RESULT_FIELDS.code);
const TAG_ERROR = len(RESULT_FIELDS.error);
const TAG_ERROR_NAME = len(RESULT_FIELDS.error_name);
const TAG_OWNER_ONLY = varint(RESULT_FIELDS.owner_only);

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

// Bytes of an optional field, omitted when 0 or empty (proto3's default).
function uintSize(n: number): number {
  return n > 0 ? 1 + varintSize(n) : 0;
}

function lenSize(length: number): number {
  return length > 0 ? 1 + varintSize(length) + length : 0;
}

class Writer {
  offset = 0;
  constructor(readonly buf: Buffer) {}

  varint(n: number): void {
    const buf = this.buf;
    while (n >= 0x80) {
      buf[this.offset++] = (n & 0x7f) | 0x80;
      n = Math.floor(n / 128);
    }
    buf[this.offset++] = n;
  }

  /** A varint field (bools as 0/1), left out when 0. */
  uint(tag: number, n: number): void {
    if (n === 0) return;
    this.buf[this.offset++] = tag;
    this.varint(n);
  }

  /** A length-prefixed header: the repeated message that follows. */
  header(tag: number, length: number): void {
    this.buf[this.offset++] = tag;
    this.varint(length);
  }

  /** A bytes field, left out when empty. */
  bytes(tag: number, bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.header(tag, bytes.length);
    this.buf.set(bytes, this.offset);
    this.offset += bytes.length;
  }

  /** A string field of `size` UTF-8 bytes. */
  string(tag: number, text: string, size: number): void {
    this.header(tag, size);
    if (size !== text.length) {
      this.offset += encoder.encodeInto(text, this.buf.subarray(this.offset)).written;
      return;
    }
    // As many bytes as UTF-16 units: ASCII, written as is. Keys usually are,
    // and encodeInto costs a view and a result object per string.
    const buf = this.buf;
    for (let i = 0; i < size; i++) buf[this.offset++] = text.charCodeAt(i);
  }
}

/** Encodes an ItemBatch. */
export function encodeItemBatch({ items }: ItemBatch): Buffer {
  const sizes: number[] = [];
  let total = 0;
  for (const item of items) {
    const group = utf8Length(item.group);
    const key = utf8Length(item.key);
    const body = uintSize(item.id) + 1 + varintSize(group) + group + 1 + varintSize(key) + key +
      uintSize(item.timeout_ms) + uintSize(item.op ?? 0) + lenSize(item.value?.length ?? 0) +
      uintSize(item.ttl_ms ?? 0) + uintSize(item.local ? 1 : 0);
    sizes.push(group, key, body);
    total += 1 + varintSize(body) + body;
  }
  const writer = new Writer(Buffer.allocUnsafe(total));
  items.forEach((item, i) => {
    writer.header(TAG_REPEATED, sizes[i * 3 + 2]);
    writer.uint(TAG_ID, item.id);
    writer.string(TAG_GROUP, item.group, sizes[i * 3]);
    writer.string(TAG_KEY, item.key, sizes[i * 3 + 1]);
    writer.uint(TAG_TIMEOUT, item.timeout_ms);
    writer.uint(TAG_OP, item.op ?? 0);
    if (item.value) writer.bytes(TAG_ITEM_VALUE, item.value);
    writer.uint(TAG_ITEM_TTL, item.ttl_ms ?? 0);
    writer.uint(TAG_LOCAL, item.local ? 1 : 0);
  });
  return writer.buf;
}

/** Bytes before each message in a gRPC stream: a compressed flag and a 4-byte length. */
export const FRAME_HEADER_BYTES = 5;

/**
 * Encodes a ResultBatch, after `reserve` bytes left for the caller (a gRPC
 * frame header: the message is then written once, in its frame).
 */
export function encodeResultBatch({ results }: ResultBatch, reserve = 0): Buffer {
  const sizes: number[] = [];
  let total = 0;
  for (const r of results) {
    const error = r.code === 0 ? 0 : utf8Length(r.error);
    const name = r.code === 0 ? 0 : utf8Length(r.error_name);
    const body = uintSize(r.id) + lenSize(r.value.length) + uintSize(r.ttl_ms) +
      uintSize(r.code) + lenSize(error) + lenSize(name) + uintSize(r.owner_only ? 1 : 0);
    sizes.push(error, name, body);
    total += 1 + varintSize(body) + body;
  }
  const writer = new Writer(Buffer.allocUnsafe(reserve + total));
  writer.offset = reserve;
  results.forEach((r, i) => {
    writer.header(TAG_REPEATED, sizes[i * 3 + 2]);
    writer.uint(TAG_ID, r.id);
    writer.bytes(TAG_VALUE, r.value);
    writer.uint(TAG_TTL, r.ttl_ms);
    writer.uint(TAG_CODE, r.code);
    if (sizes[i * 3] > 0) writer.string(TAG_ERROR, r.error, sizes[i * 3]);
    if (sizes[i * 3 + 1] > 0) writer.string(TAG_ERROR_NAME, r.error_name, sizes[i * 3 + 1]);
    writer.uint(TAG_OWNER_ONLY, r.owner_only ? 1 : 0);
  });
  return writer.buf;
}

class Reader {
  offset: number;
  constructor(readonly buf: Uint8Array, start = 0, readonly end = buf.length) {
    this.offset = start;
  }

  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.offset >= this.end) throw new RangeError("Truncated varint");
      const b = this.buf[this.offset++];
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 128;
    }
    throw new RangeError("Varint too long");
  }

  // Returns [start, end) of a length-delimited field's content.
  span(): number {
    const length = this.varint();
    const start = this.offset;
    this.offset += length;
    if (this.offset > this.end) throw new RangeError("Truncated field");
    return start;
  }

  #advance(bytes: number): void {
    this.offset += bytes;
    if (this.offset > this.end) throw new RangeError("Truncated field");
  }

  skip(tag: number): void {
    switch (tag & 7) {
      case 0:
        this.varint();
        return;
      case 1:
        this.#advance(8);
        return;
      case 2:
        this.span();
        return;
      case 5:
        this.#advance(4);
        return;
    }
    throw new RangeError(`Unsupported wire type ${tag & 7}`);
  }
}

// Calls `each` with a reader over every field-1 message of `buf`.
function forEachRepeated(buf: Uint8Array, each: (reader: Reader) => void): void {
  const outer = new Reader(buf);
  while (outer.offset < outer.end) {
    const tag = outer.varint();
    if (tag !== TAG_REPEATED) {
      outer.skip(tag);
      continue;
    }
    const start = outer.span();
    each(new Reader(buf, start, outer.offset));
  }
}

const EMPTY = new Uint8Array(0);

// A Buffer's slice() is a view of the message, which grpc-js reuses: copy.
function copy(buf: Uint8Array, start: number, end: number): Uint8Array {
  const value = new Uint8Array(end - start);
  value.set(buf.subarray(start, end));
  return value;
}

/** Decodes an ItemBatch; each value is a copy the caller may keep. */
export function decodeItemBatch(buf: Uint8Array): ItemBatch {
  const items: Item[] = [];
  forEachRepeated(buf, (r) => {
    const item: Item = { id: 0, group: "", key: "", timeout_ms: 0 };
    while (r.offset < r.end) {
      const tag = r.varint();
      if (tag === TAG_ID) item.id = r.varint();
      else if (tag === TAG_GROUP) item.group = decoder.decode(buf.subarray(r.span(), r.offset));
      else if (tag === TAG_KEY) item.key = decoder.decode(buf.subarray(r.span(), r.offset));
      else if (tag === TAG_TIMEOUT) item.timeout_ms = r.varint();
      else if (tag === TAG_OP) item.op = r.varint();
      else if (tag === TAG_ITEM_VALUE) item.value = copy(buf, r.span(), r.offset);
      else if (tag === TAG_ITEM_TTL) item.ttl_ms = r.varint();
      else if (tag === TAG_LOCAL) item.local = r.varint() !== 0;
      else r.skip(tag);
    }
    items.push(item);
  });
  return { items };
}

/** Decodes a ResultBatch; each value is a copy the caller may keep. */
export function decodeResultBatch(buf: Uint8Array): ResultBatch {
  const results: ItemResult[] = [];
  forEachRepeated(buf, (r) => {
    const result: ItemResult = {
      id: 0,
      value: EMPTY,
      ttl_ms: 0,
      code: 0,
      error: "",
      error_name: "",
    };
    while (r.offset < r.end) {
      const tag = r.varint();
      if (tag === TAG_ID) result.id = r.varint();
      else if (tag === TAG_VALUE) result.value = copy(buf, r.span(), r.offset);
      else if (tag === TAG_TTL) result.ttl_ms = r.varint();
      else if (tag === TAG_CODE) result.code = r.varint();
      else if (tag === TAG_ERROR) result.error = decoder.decode(buf.subarray(r.span(), r.offset));
      else if (tag === TAG_ERROR_NAME) {
        result.error_name = decoder.decode(buf.subarray(r.span(), r.offset));
      } else if (tag === TAG_OWNER_ONLY) result.owner_only = r.varint() !== 0;
      else r.skip(tag);
    }
    results.push(result);
  });
  return { results };
}
