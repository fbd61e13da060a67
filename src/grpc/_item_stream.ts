// The node's side of GetStream: batches of gets in, results out, as a
// gateway sends them (see proto/mccache.proto).
import * as grpc from "@grpc/grpc-js";
import { errorStatus, TooLargeError, UnknownGroupError } from "../errors.ts";
import type { GetOptions, Group } from "../group.ts";
import type { GroupRegistry } from "../registry.ts";
import { type Deadline, deadline } from "./deadline.ts";
import { MAX_VALUE_BYTES } from "../limits.ts";
import {
  type Item,
  type ItemBatch,
  ItemOp,
  type ItemResult,
  type ResultBatch,
} from "./messages.ts";

/** Initial metadata key in which a node names itself on a GetStream. */
export const NODE_METADATA_KEY = "mccache-node";

/** How long a node works on an item that named no timeout. */
const DEFAULT_ITEM_TIMEOUT_MS = 5000;
/** Bytes of values per reply message: a gateway's default limit is 4 MiB a message. */
const MAX_REPLY_BYTES = 1 << 20;

const EMPTY = new Uint8Array(0);
// As a failed load: the node answered, the value cannot travel (HTTP 502).
const GRPC_UNKNOWN = 2;

// Get options whose signal is made only when it is read, i.e. on a miss:
// cache hits, the common case, never pay for a timer. The item's own
// timeout bounds the load; `done` clears the timer once it is answered.
function itemOptions(timeoutMs: number, local = false): { options: GetOptions; done(): void } {
  let timer: Deadline | undefined;
  return {
    options: {
      local,
      get signal() {
        return (timer ??= deadline(timeoutMs || DEFAULT_ITEM_TIMEOUT_MS)).signal;
      },
    },
    done: () => timer?.clear(),
  };
}

/** Where a GetStream's replies go: a grpc-js call, or an HTTP/2 stream served directly. */
export interface ReplySink {
  /** Sends one reply; false once the caller's buffer is full. */
  write(results: ItemResult[]): boolean;
  /** Stops reading batches until the caller has read what was sent, then calls `resume`. */
  pauseUntilDrained(resume: () => void): void;
  /** Ends the stream with status OK. */
  end(): void;
  /** Whether the caller has gone away. */
  readonly closed: boolean;
}

/** What every GetStream of a node shares, on either path. */
export interface StreamServing {
  registry: GroupRegistry;
  /** The node's address, named in each stream's initial metadata. */
  self: string;
  /** A function per open stream that ends it once its gets are answered. */
  streams: Set<() => void>;
  /** The largest value a SET item may carry. */
  maxValueBytes: number;
}

/** One GetStream's gets, from the batches read to the replies written. */
export interface ItemStreamSession {
  /** Answers a batch: its cache hits at once, the rest as they are ready. */
  receive(batch: ItemBatch): void;
  /** The caller sends no more: end the stream once its gets are answered. */
  end(): void;
  /** The caller went away: nothing to answer. */
  leave(): void;
}

/**
 * Opens the node's side of one GetStream. The cache hits of a batch go back
 * as one message while the batch is read (or with the results already
 * waiting for the end of the turn); the other results as they are ready,
 * gathered per event-loop turn. `streams` holds a function per open stream
 * that ends it once its gets are answered.
 */
export function openItemStream(serving: StreamServing, sink: ReplySink): ItemStreamSession {
  return new Session(serving, sink);
}

/** One stream's items in flight, and the results waiting for the end of the turn. */
class Session implements ItemStreamSession {
  #serving: StreamServing;
  #sink: ReplySink;
  #ready: ItemResult[] = [];
  #scheduled = false;
  #paused = false;
  #pending = 0;
  #ended = false;

  constructor(serving: StreamServing, sink: ReplySink) {
    this.#serving = serving;
    this.#sink = sink;
    serving.streams.add(this.end);
  }

  // Fields, not methods: handed to stream events as they are.
  receive = (batch: ItemBatch): void => {
    let answered = 0;
    for (const item of batch.items) if (this.#answerAtOnce(item)) answered++;
    // A batch of hits goes back now, not a turn later.
    if (answered > 0 && !this.#scheduled) this.#flush();
  };

  end = (): void => {
    if (this.#ended) return;
    this.#ended = true;
    this.#serving.streams.delete(this.end);
    if (this.#pending === 0 && !this.#scheduled) this.#sink.end();
  };

  leave = (): void => {
    this.#serving.streams.delete(this.end);
  };

  // Answers an item of an unknown group, or a cache hit, at once (true);
  // starts the load of any other.
  #answerAtOnce(item: Item): boolean {
    const group = this.#serving.registry.get(item.group);
    if (group === undefined) {
      this.#ready.push(errorResult(item.id, new UnknownGroupError(item.group)));
      return true;
    }
    group.recordServerRequest();
    // Cache hits, the common case, skip the promises, timers and the turn
    // that a load needs: that path cost a node ~20% more CPU per request.
    const hit = item.op ? undefined : group.cachedEntry(item.key);
    if (hit !== undefined) {
      this.#ready.push(valueResult(item.id, hit.value.unsafeBytes(), hit.ttl));
      return true;
    }
    this.#load(group, item);
    return false;
  }

  #load(group: Group, item: Item): void {
    this.#pending++;
    const options = itemOptions(item.timeout_ms, item.local);
    serveItem(group, item, options.options, this.#serving.maxValueBytes).then(
      (result) => {
        options.done();
        this.#done(result);
      },
      (error) => {
        options.done();
        this.#done(errorResult(item.id, error));
      },
    );
  }

  #done(result: ItemResult): void {
    this.#pending--;
    this.#ready.push(result);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flush);
    }
  }

  // A field, not a method: handed to setImmediate.
  #flush = (): void => {
    this.#scheduled = false;
    for (const results of replies(this.#ready)) {
      // A caller that does not read its results stops getting new ones read
      // (one drain listener however many writes filled the buffer).
      if (!this.#sink.closed && !this.#sink.write(results) && !this.#paused) {
        this.#paused = true;
        this.#sink.pauseUntilDrained(this.#resume);
      }
    }
    this.#ready = [];
    if (this.#ended && this.#pending === 0) this.#sink.end();
  };

  #resume = (): void => {
    this.#paused = false;
  };
}

/**
 * Serves one GetStream through grpc-js: the streams that the direct path
 * leaves to it (see _direct_stream.ts), and every stream of a server with
 * interceptors or whose ports were bound before its services were added.
 */
export function serveItemStream(
  call: grpc.ServerDuplexStream<ItemBatch, ResultBatch>,
  serving: StreamServing,
): void {
  const metadata = new grpc.Metadata();
  metadata.set(NODE_METADATA_KEY, serving.self);
  call.sendMetadata(metadata);
  const session = openItemStream(serving, {
    write: (results) => call.write({ results }),
    pauseUntilDrained(resume) {
      call.pause();
      call.once("drain", () => {
        resume();
        call.resume();
      });
    },
    end: () => call.end(),
    get closed() {
      return call.cancelled;
    },
  });
  call.on("data", session.receive);
  call.on("end", session.end);
  call.on("error", session.leave);
  call.on("cancelled", session.leave);
}

function serveItem(
  group: Group,
  item: Item,
  options: GetOptions,
  maxValueBytes: number,
): Promise<ItemResult> {
  const { id, key } = item;
  switch (item.op ?? ItemOp.GET) {
    case ItemOp.GET:
      return group.getEntry(key, options).then(({ value, ttl }) =>
        valueResult(id, value.unsafeBytes(), ttl)
      );
    case ItemOp.SET: {
      const tooLarge = checkValueSize(item.value?.length ?? 0, maxValueBytes);
      if (tooLarge) return Promise.resolve(errorResult(id, tooLarge));
      const ttl = item.ttl_ms ? item.ttl_ms : undefined;
      // The owner stores it and leaves the other nodes to the caller; any
      // other node passes it on as a Set call would.
      const ownerOnly = !item.local && group.owns(key);
      const { signal } = options;
      const local = item.local || ownerOnly;
      return group.set(key, item.value ?? EMPTY, { ttl, local, signal })
        .then(() => ok(id, ownerOnly));
    }
    case ItemOp.REMOVE: {
      const ownerOnly = !item.local && group.owns(key);
      const local = item.local || ownerOnly;
      return group.remove(key, { local, signal: options.signal }).then(() => ok(id, ownerOnly));
    }
  }
  return Promise.resolve(errorResult(id, new RangeError(`Unknown item op ${item.op}`)));
}

/** A TooLargeError for a value over `limit` bytes, else `undefined`. */
export function checkValueSize(bytes: number, limit: number): TooLargeError | undefined {
  if (bytes <= limit) return undefined;
  return new TooLargeError(`Value of ${bytes} bytes is over this node's limit of ${limit} bytes`);
}

function ok(id: number, ownerOnly: boolean): ItemResult {
  return { id, value: EMPTY, ttl_ms: 0, code: 0, error: "", error_name: "", owner_only: ownerOnly };
}

// Splits results into messages of at most MAX_REPLY_BYTES of values (one
// bigger value travels alone): one huge message would fail the whole stream.
function* replies(results: ItemResult[]): Generator<ItemResult[]> {
  let message: ItemResult[] = [];
  let bytes = 0;
  for (const result of results) {
    if (message.length > 0 && bytes + result.value.length > MAX_REPLY_BYTES) {
      yield message;
      message = [];
      bytes = 0;
    }
    message.push(result);
    bytes += result.value.length;
  }
  if (message.length > 0) yield message;
}

function valueResult(id: number, value: Uint8Array, ttl: number | undefined): ItemResult {
  if (value.length > MAX_VALUE_BYTES) {
    const error =
      `Value of ${value.length} bytes is over the ${MAX_VALUE_BYTES}-byte message limit`;
    return { id, value: EMPTY, ttl_ms: 0, code: GRPC_UNKNOWN, error, error_name: "Error" };
  }
  return { id, value, ttl_ms: ttl ?? 0, code: 0, error: "", error_name: "" };
}

function errorResult(id: number, error: unknown): ItemResult {
  const name = (error as { name?: unknown } | null)?.name;
  return {
    id,
    value: EMPTY,
    ttl_ms: 0,
    code: errorStatus(error).grpc,
    error: error instanceof Error ? error.message : String(error),
    error_name: typeof name === "string" ? name : "Error",
  };
}
