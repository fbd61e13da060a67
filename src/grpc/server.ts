/**
 * The gRPC face of a cache node: `mccache.v1.Cache` for peers and gateways,
 * and the Go original's `geecachepb.McCache/Get` so its gateway can use
 * mccache nodes unchanged.
 *
 * @module
 */

import type * as grpc from "@grpc/grpc-js";
import { UnknownGroupError } from "../errors.ts";
import { checkValueSize, serveItemStream, type StreamServing } from "./_item_stream.ts";
import { MAX_VALUE_BYTES } from "../limits.ts";
import { serveStreams } from "./_direct_stream.ts";
import { BufferBudget } from "./_buffer_budget.ts";
import type { Group } from "../group.ts";
import type { GroupRegistry } from "../registry.ts";
import type { CacheStats, GroupStats } from "../stats.ts";
import { type Deadline, deadline } from "./deadline.ts";
import { toServiceError } from "./status.ts";
import type {
  CacheStatsMessage,
  GetRequest,
  GetResponse,
  GoOriginalRequest,
  GoOriginalResponse,
  GroupStatsMessage,
  ItemBatch,
  RemoveRequest,
  ResultBatch,
  SetRequest,
  StatsResponse,
} from "./messages.ts";
import { CacheClient, GeeCacheClient } from "./_proto.ts";

/** Options for {@linkcode addCacheServices}. */
export interface CacheServiceOptions {
  /** This node's address, reported by the Stats call. */
  self: string;
  /** The ring members this node routes by, reported by the Stats call. @default {() => []} */
  members?: () => readonly string[];
  /**
   * The largest value a write may store, on every write path (Set, and a
   * GetStream's set items); larger ones fail with RESOURCE_EXHAUSTED.
   * @default {1048576}
   */
  maxValueBytes?: number;
  /**
   * The bytes that messages still arriving may hold in memory, all of this
   * server's streams together: a message is charged in full once its length
   * is read, and one that does not fit resets its stream, which a grpc-js
   * caller sees as RESOURCE_EXHAUSTED. Messages of other servers sharing
   * the process are not counted.
   * @default {134217728}
   */
  maxBufferedBytes?: number;
}

/**
 * What {@linkcode addCacheServices} needs of a server: a grpc-js `Server`
 * (`new grpc.Server()`) is one. Described by its shape rather than as
 * grpc-js's class so that these docs stand without grpc-js's types; only on
 * a grpc-js `Server` is GetStream also served on the HTTP/2 stream directly.
 */
export interface CacheServiceHost {
  /** Adds a service's handlers: grpc-js's `Server.addService(definition, handlers)`. */
  addService(definition: object, handlers: object): void;
}

/** The default of {@linkcode CacheServiceOptions.maxBufferedBytes}: 128 MiB. */
export const DEFAULT_MAX_BUFFERED_BYTES = 128 << 20;

export { MAX_MESSAGE_BYTES } from "../limits.ts";

/**
 * Adds the mccache and geecachepb services, serving the groups of
 * `registry`, to a grpc-js server. Add them before binding its ports: on
 * those bound afterwards, GetStream, the gateways' traffic, is served on the
 * HTTP/2 stream directly, past grpc-js's server layers (~16% less CPU per get
 * for a node); on ports bound before, or when the server has interceptors,
 * grpc-js serves it.
 *
 * @example Serve a registry on a free port
 * ```ts ignore
 * import * as grpc from "@grpc/grpc-js";
 * import { GroupRegistry } from "@mccache/core";
 * import { addCacheServices } from "@mccache/core/grpc";
 *
 * const server = new grpc.Server();
 * addCacheServices(server, new GroupRegistry(), { self: "127.0.0.1:8001" });
 * ```
 */
export function addCacheServices(
  server: CacheServiceHost,
  registry: GroupRegistry,
  options: CacheServiceOptions,
): CacheServices {
  const maxValueBytes = maxValueBytesOf(options);
  const budget = new BufferBudget(bufferedBytesOf(options));
  const streams = new Set<() => void>();
  const serving = { registry, self: options.self, streams, maxValueBytes };
  server.addService(CacheClient.service, cacheHandlers(serving, options.members ?? (() => [])));
  serveStreams(server, serving, budget);
  server.addService(GeeCacheClient.service, {
    Get: unary<GoOriginalRequest, GoOriginalResponse>(registry, async (group, request, signal) => {
      return { value: (await group.get(request.key, { signal })).unsafeBytes() };
    }),
  });
  return {
    endStreams() {
      for (const end of streams) end();
    },
    get bufferedBytes() {
      return budget.used;
    },
    get refusedMessages() {
      return budget.refused;
    },
  };
}

// mccache.v1.Cache's methods; GetStream's grpc-js path, which the direct
// one leaves streams to (see _direct_stream.ts).
function cacheHandlers(
  serving: StreamServing,
  members: () => readonly string[],
): grpc.UntypedServiceImplementation {
  const { registry, maxValueBytes } = serving;
  return {
    Get: unary<GetRequest, GetResponse>(registry, async (group, request, signal) => {
      const { value, ttl } = await group.getEntry(request.key, { signal, local: request.local });
      return { value: value.unsafeBytes(), ttl_ms: ttl ?? 0 };
    }),
    Set: unary<SetRequest, object>(registry, async (group, request, signal) => {
      const tooLarge = checkValueSize(request.value.length, maxValueBytes);
      if (tooLarge) throw tooLarge;
      const ttl = request.ttl_ms > 0 ? request.ttl_ms : undefined;
      await group.set(request.key, request.value, { ttl, local: request.local, signal });
      return {};
    }),
    Remove: unary<RemoveRequest, object>(registry, async (group, request, signal) => {
      await group.remove(request.key, { local: request.local, signal });
      return {};
    }),
    Stats: (_call: unknown, callback: grpc.sendUnaryData<StatsResponse>) => {
      const groups = [...registry].map(groupStatsMessage);
      callback(null, { node: serving.self, members: [...members()].sort(), groups });
    },
    GetStream: (call: grpc.ServerDuplexStream<ItemBatch, ResultBatch>) => {
      serveItemStream(call, serving);
    },
  };
}

function maxValueBytesOf(options: CacheServiceOptions): number {
  const maxValueBytes = options.maxValueBytes ?? 1 << 20;
  if (!Number.isInteger(maxValueBytes) || maxValueBytes < 0 || maxValueBytes > MAX_VALUE_BYTES) {
    throw new RangeError(
      `Cannot add cache services: maxValueBytes must be an integer from 0 to ${MAX_VALUE_BYTES}: received ${maxValueBytes}`,
    );
  }
  return maxValueBytes;
}

function bufferedBytesOf(options: CacheServiceOptions): number {
  const bytes = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
  if (!Number.isSafeInteger(bytes) || bytes < 1) {
    throw new RangeError(
      `Cannot add cache services: maxBufferedBytes must be a positive integer: received ${bytes}`,
    );
  }
  return bytes;
}

/** What {@linkcode addCacheServices} leaves running. */
export interface CacheServices {
  /**
   * Ends every GetStream once its gets in flight are answered, so that a
   * stopping node's callers move their streams elsewhere instead of waiting.
   */
  endStreams(): void;
  /** Bytes that messages still arriving hold now (see `maxBufferedBytes`). */
  readonly bufferedBytes: number;
  /** Messages refused so far because `maxBufferedBytes` was reached. */
  readonly refusedMessages: number;
}

type Handler<Req, Res> = (group: Group, request: Req, signal: AbortSignal) => Promise<Res>;

function unary<Req extends { group: string }, Res>(
  registry: GroupRegistry,
  handle: Handler<Req, Res>,
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const group = registry.get(call.request.group);
    if (group === undefined) {
      callback(toServiceError(new UnknownGroupError(call.request.group)));
      return;
    }
    group.recordServerRequest();
    const { signal, clear } = callSignal(call);
    handle(group, call.request, signal).then(
      (response) => {
        clear();
        callback(null, response);
      },
      (error) => {
        clear();
        callback(toServiceError(error));
      },
    );
  };
}

// A signal that aborts when the caller cancels or its deadline passes, and
// that carries the deadline on to any peer this call goes to. `clear` stops
// its timer and listener once the call is answered: nodes take thousands of
// calls a second with multi-second deadlines.
function callSignal(call: grpc.ServerUnaryCall<unknown, unknown>): Deadline {
  const controller = new AbortController();
  const onCancel = () => {
    controller.abort(new DOMException("The caller cancelled the call", "AbortError"));
  };
  call.once("cancelled", onCancel);
  const stopListening = () => call.off("cancelled", onCancel);
  const at = call.getDeadline();
  const ms = (at instanceof Date ? at.getTime() : at) - Date.now();
  if (!Number.isFinite(ms)) return { signal: controller.signal, clear: stopListening };
  const timed = deadline(ms, controller.signal);
  return {
    signal: timed.signal,
    clear: () => {
      timed.clear();
      stopListening();
    },
  };
}

function cacheStatsMessage(stats: CacheStats): CacheStatsMessage {
  return { ...stats };
}

function groupStatsMessage(group: Group): GroupStatsMessage {
  const s: GroupStats = group.stats();
  return {
    name: group.name,
    gets: s.gets,
    cache_hits: s.cacheHits,
    peer_loads: s.peerLoads,
    peer_errors: s.peerErrors,
    loads: s.loads,
    loads_deduped: s.loadsDeduped,
    local_loads: s.localLoads,
    local_load_errs: s.localLoadErrs,
    server_requests: s.serverRequests,
    main: cacheStatsMessage(group.cacheStats("main")),
    hot: cacheStatsMessage(group.cacheStats("hot")),
    max_bytes: group.maxBytes,
  };
}
