// One long-lived GetStream to one member, carrying batches of gets, sets and
// removes: the key's owner, the next member while the owner is down, or one
// member named outright (drops after a write, hedged gets).
//
// A stream message costs a fraction of a unary call on both sides, so the
// gateway gathers the keys that arrive for one owner in one event-loop turn
// (two when it is busy, see GrpcUpstream) and sends them as one message (see
// PLATFORM-NOTES: ~0.04x of bare HTTP for a unary call per request, ~0.36x
// with streams).
import * as grpc from "@grpc/grpc-js";
import { PeerError } from "../errors.ts";
import { Table } from "../table.ts";
import { ATTEMPT_METADATA_KEY, HASH_METADATA_KEY, MEMBER_METADATA_KEY } from "./balancer.ts";
import { NODE_METADATA_KEY } from "./_item_stream.ts";
import { errorFromStatus } from "./status.ts";
import type { Item, ItemBatch, ResultBatch } from "./messages.ts";
import type { UpstreamValue } from "../gateway/upstream.ts";

/** A get (or a set or remove) waiting for its result. */
export interface PendingRequest {
  /** The id of the stream item it travels in (set by MemberStream.send). */
  id: number;
  group: string;
  key: string;
  /** ItemOp; absent = GET. */
  op?: number;
  /** SET: the value and its time to live in milliseconds. */
  value?: Uint8Array;
  ttl?: number;
  /** Only on the node it reaches (see Item.local). */
  local?: boolean;
  /** When the gateway gives up on it (ms since the epoch). */
  deadline: number;
  /** Whether it was already re-sent once after a stream broke. */
  retried: boolean;
  /** How often it was sent again because a member refused its protocol. */
  redirects: number;
  /** The one member it is for (a drop after a write, a hedged get), when not its key's owner. */
  member?: string;
  /** When it was queued on a stream (ms since the epoch). */
  sentAt?: number;
  /** Whether a copy of it went to another member (see GrpcUpstream's hedging). */
  hedged?: boolean;
  /** A write done at the key's next member: the member it stands in for. */
  failover?: string;
  resolve(value: UpstreamValue): void;
  reject(error: unknown): void;
}

// grpc-js rejects received messages over 4 MiB by default, which would fail
// a whole batch: keep request batches well under it.
const MAX_BATCH_BYTES = 1 << 20;
/** Items queued for a node that does not read: past this, new ones fail at once. */
const MAX_QUEUED = 10_000;
/** Bytes of PUT values queued for a node that does not read: likewise. */
const MAX_QUEUED_BYTES = 64 << 20;

type DuplexMethod = (metadata: grpc.Metadata) => grpc.ClientDuplexStream<ItemBatch, ResultBatch>;

/** What a stream tells its owner (the upstream). */
export interface StreamEvents {
  /** Called once when the stream is over, with the requests it never answered. */
  closed(stream: MemberStream, unanswered: PendingRequest[], error: unknown): void;
  /** Called when the node named itself: it speaks mccache's protocol. */
  named?(stream: MemberStream): void;
  /** Called for each message of results, with how long its oldest result took since it was queued. */
  answered?(stream: MemberStream, ms: number): void;
}

/** A GetStream to one member and the requests pending on it. */
export class MemberStream {
  readonly openedAt = Date.now();
  /** The node that serves this stream, once it said (initial metadata). */
  node = "";
  /** Whether it is on GrpcUpstream's list for the next flush. */
  listed = false;
  #call: grpc.ClientDuplexStream<ItemBatch, ResultBatch>;
  #queue: Item[] = [];
  #queuedBytes = 0;
  // Not a Map: see table.ts.
  #inflight = new Table<number, PendingRequest>();
  #blocked = false;
  #closed = false;
  #retiring = false;
  #ended = false;
  #events: StreamEvents;

  /**
   * Opens a stream placed by `target`: a key's hash (on its owner, or the
   * next connected member; the member after that on a retry), or exactly
   * the member `owner`.
   */
  constructor(
    client: grpc.Client,
    readonly owner: string,
    target: { hash: number; attempt: number } | "member",
    events: StreamEvents,
  ) {
    this.#events = events;
    const metadata = new grpc.Metadata();
    if (target === "member") metadata.set(MEMBER_METADATA_KEY, owner);
    else {
      metadata.set(HASH_METADATA_KEY, String(target.hash));
      if (target.attempt > 0) metadata.set(ATTEMPT_METADATA_KEY, String(target.attempt));
    }
    const open = (client as unknown as { GetStream: DuplexMethod }).GetStream;
    this.#call = open.call(client, metadata);
    this.#call.on("metadata", (md: grpc.Metadata) => {
      this.node = String(md.get(NODE_METADATA_KEY)[0] ?? "");
      if (this.node !== "") events.named?.(this);
    });
    this.#call.on("data", (results: ResultBatch) => this.#answer(results));
    this.#call.on("error", (error: grpc.ServiceError) => this.#close(error));
    this.#call.on("end", () => this.#close(undefined));
  }

  /** Whether new gets may still be sent on it. */
  get open(): boolean {
    return !this.#closed && !this.#retiring;
  }

  /**
   * The member the stream was placed on, once it was (grpc-js names the
   * call's peer by the address the resolver gave); "" before.
   */
  get member(): string {
    const peer = this.#call.getPeer();
    // Before a member is picked, the peer is the channel's target (a URI).
    return peer.includes("/") ? "" : peer;
  }

  /** Queues a get (or write); it goes out with the next flush. */
  send(id: number, request: PendingRequest): void {
    // A node that stopped reading gets no more than MAX_QUEUED items, and
    // MAX_QUEUED_BYTES of values, queued.
    const bytes = request.value?.length ?? 0;
    const full = this.#queue.length >= MAX_QUEUED || this.#queuedBytes + bytes > MAX_QUEUED_BYTES;
    if (this.#blocked && full) {
      request.reject(new PeerError(`${this.answerer}: not reading its stream`));
      return;
    }
    this.#queuedBytes += bytes;
    request.id = id;
    this.#inflight.set(id, request);
    // The node gives up on the load when the gateway gives up on the get.
    const now = Date.now();
    request.sentAt = now;
    const timeout_ms = Math.max(1, Math.ceil(request.deadline - now));
    const { group, key, op, value, ttl, local } = request;
    this.#queue.push(
      op
        ? { id, group, key, timeout_ms, op, value, ttl_ms: ttl, local }
        : local
        ? { id, group, key, timeout_ms, local }
        : { id, group, key, timeout_ms },
    );
  }

  /** Writes the queued gets, as few messages as the byte cap allows. */
  flush(): void {
    if (this.#blocked || this.#closed) return;
    while (this.#queue.length > 0) {
      const items = this.#takeBatch();
      // A full socket buffer: stop writing and let gets pile up into the next
      // batch, so a stalled node cannot grow the gateway's memory unbounded.
      if (!this.#call.write({ items })) {
        this.#blocked = true;
        this.#call.once("drain", () => {
          this.#blocked = false;
          this.flush();
        });
        return;
      }
    }
    // Ended only once all of it is written: a write after end() fails the stream.
    if (this.#retiring && !this.#ended) {
      this.#ended = true;
      this.#call.end();
    }
  }

  /** Rejects the gets whose deadline has passed, and unqueues them. */
  expire(now: number): void {
    let expired = false;
    for (const request of this.#inflight.values()) {
      if (request.deadline > now) continue;
      this.#inflight.delete(request.id);
      request.reject(new DOMException("Deadline passed", "TimeoutError"));
      expired = true;
    }
    if (expired && this.#queue.length > 0) {
      this.#queue = this.#queue.filter((item) => this.#inflight.has(item.id));
      this.#queuedBytes = this.#queue.reduce((sum, item) => sum + (item.value?.length ?? 0), 0);
    }
  }

  /** The gets in flight since before `before` (ms since the epoch) that were not hedged yet. */
  stalled(before: number): PendingRequest[] {
    const stalled: PendingRequest[] = [];
    for (const request of this.#inflight.values()) {
      if (!request.op && !request.hedged && (request.sentAt ?? Infinity) < before) {
        stalled.push(request);
      }
    }
    return stalled;
  }

  /** Takes no new gets and ends the stream once the node has answered the ones in flight. */
  retire(): void {
    if (this.#retiring || this.#closed) return;
    this.#retiring = true;
    this.flush(); // ends it, now or after 'drain' when the node is slow to read
  }

  /** The member to name in errors: the one that answered, else the one meant. */
  get answerer(): string {
    return this.node || this.member || this.owner;
  }

  #takeBatch(): Item[] {
    let bytes = 0;
    let count = 0;
    for (const item of this.#queue) {
      bytes += item.key.length * 3 + item.group.length * 3 + (item.value?.length ?? 0) + 32;
      if (bytes > MAX_BATCH_BYTES && count > 0) break;
      this.#queuedBytes -= item.value?.length ?? 0;
      count++;
    }
    return this.#queue.splice(0, count);
  }

  #answer({ results }: ResultBatch): void {
    let oldest = Infinity;
    for (const result of results) {
      const request = this.#inflight.get(result.id);
      if (request === undefined) continue; // expired meanwhile
      this.#inflight.delete(result.id);
      if (request.sentAt! < oldest) oldest = request.sentAt!;
      if (result.code === 0) {
        request.resolve({
          // Decoded as a fresh copy (see decodeResultBatch): no need for another.
          value: result.value as Uint8Array<ArrayBuffer>,
          ttl: result.ttl_ms > 0 ? result.ttl_ms : undefined,
          node: this.node,
          ownerOnly: result.owner_only === true,
        });
      } else {
        const name = result.error_name || undefined;
        request.reject(errorFromStatus(result.code, result.error, name, this.answerer));
      }
    }
    if (oldest !== Infinity) this.#events.answered?.(this, Date.now() - oldest);
  }

  #close(error: grpc.ServiceError | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    const unanswered = this.#inflight.values();
    this.#inflight.clear();
    this.#queue = [];
    this.#queuedBytes = 0;
    const cause = error ?? new PeerError(`${this.answerer}: the stream ended`);
    this.#events.closed(this, unanswered, cause);
  }
}
