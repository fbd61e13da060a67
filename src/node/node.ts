/**
 * {@linkcode startNode}: a cache node, as a library call. It serves a
 * registry's groups over gRPC, finds the other nodes (etcd, or a static
 * list), routes each key to its owner, and optionally serves `/healthz` and
 * `/metrics` over HTTP.
 *
 * @module
 */

import * as grpc from "@grpc/grpc-js";
import type { HashRingOptions } from "../hash_ring.ts";
import type { GroupRegistry } from "../registry.ts";
import { addCacheServices, MAX_MESSAGE_BYTES } from "../grpc/server.ts";
import { GrpcPeerPicker } from "../grpc/peer_picker.ts";
import { DEFAULT_KEEPALIVE_MS, keepaliveOptions } from "../grpc/peer.ts";
import { serverCredentials, type TlsOptions } from "../grpc/tls.ts";
import type { EtcdTlsOptions } from "../etcd/client.ts";
import type { EtcdDiscovery } from "../etcd/discovery.ts";
import { EtcdRegistrar } from "../etcd/registrar.ts";
import { type Logger, silentLogger } from "../log/logger.ts";
import { parseHostPort } from "../parse.ts";
import { serveNodeHttp } from "./http.ts";
import type { CacheServices } from "../grpc/server.ts";
import { CleanupStack, once, watchEtcdMembers } from "../lifecycle/lifecycle.ts";

// RFC 9113 asks for at least 100; grpc-js sets no limit at all.
const DEFAULT_MAX_STREAMS = 100;

/** How a node finds the cluster through etcd. */
export interface NodeEtcdOptions {
  /** etcd endpoints, `host:port`. @default {["127.0.0.1:2379"]} */
  endpoints?: string[];
  /** Key prefix; the node registers `<prefix>/<addr>`. @default {"mccache"} */
  prefix?: string;
  /** etcd user name. @default {undefined} */
  username?: string;
  /** etcd password. @default {undefined} */
  password?: string;
  /** TLS for `https://` endpoints. @default {undefined} */
  tls?: EtcdTlsOptions;
  /** Lease TTL in seconds: how long a crashed node stays in the rings. @default {5} */
  leaseTtl?: number;
  /** How long to wait for etcd at start, in milliseconds. @default {5000} */
  timeout?: number;
}

/** Options for {@linkcode startNode}. */
export interface NodeOptions {
  /** The address other nodes and gateways reach it at, `host:port`: its name in the ring and in etcd. */
  addr: string;
  /** Where to serve gRPC, e.g. `0.0.0.0:8001`. @default {addr} */
  listen?: string;
  /** Mutual TLS on every gRPC hop, to and from this node. @default {undefined (plaintext)} */
  tls?: TlsOptions;
  /** The groups to serve; the node gives them its peer picker. */
  registry: GroupRegistry;
  /** Static membership (this node is added if missing); no etcd is used. @default {undefined} */
  peers?: string[];
  /** Discovery through etcd, used when `peers` is not given. @default {{}} */
  etcd?: NodeEtcdOptions;
  /** Where to serve `/healthz` and `/metrics` over HTTP. @default {undefined (not served)} */
  httpAddr?: string;
  /** Key placement; every node (and gateway) of a cluster must agree. @default {{}} */
  ring?: HashRingOptions;
  /**
   * How often connections to and from this node are pinged, in
   * milliseconds; one whose ping goes unanswered as long is dropped.
   * @default {2000}
   */
  keepalive?: number;
  /**
   * The least wait for a peer that answers nothing before the key is loaded
   * here, in milliseconds (see `GrpcPeerPickerOptions`).
   * @default {50}
   */
  hedgeAfter?: number;
  /** How long a connection to this node may carry no call before it is closed, in milliseconds. @default {300000} */
  idleTimeout?: number;
  /** The largest value a write may store here, on every write path. @default {1048576} */
  maxValueBytes?: number;
  /**
   * How many calls one connection may carry at once (HTTP/2
   * `SETTINGS_MAX_CONCURRENT_STREAMS`); a caller queues the others.
   * @default {100}
   */
  maxStreams?: number;
  /**
   * The bytes that gRPC messages still arriving may hold, all connections
   * together; a message that does not fit is refused with RESOURCE_EXHAUSTED.
   * @default {134217728}
   */
  maxBufferedBytes?: number;
  /** Deadline of a call to a peer when the caller set none, in milliseconds. @default {5000} */
  peerTimeout?: number;
  /** How long a stopping node keeps serving after leaving the ring, in milliseconds. @default {300} */
  drain?: number;
  /** Lifecycle log lines. @default {silentLogger} */
  logger?: Logger;
}

/** A running node. */
export interface CacheNode extends AsyncDisposable {
  /** The gRPC address. */
  readonly addr: string;
  /** The HTTP address, when serving `/healthz` and `/metrics`. */
  readonly httpAddr: string | undefined;
  /** The ring members this node routes by, sorted. */
  readonly members: readonly string[];
  /** True while serving: an etcd outage does not change it (see `etcdConnected`). */
  readonly healthy: boolean;
  /** Bytes that gRPC messages still arriving hold now (`maxBufferedBytes`). */
  readonly bufferedBytes: number;
  /** Messages refused so far because `maxBufferedBytes` was reached. */
  readonly refusedMessages: number;
  /** Whether the watch on etcd is up; undefined with static `peers`. */
  readonly etcdConnected: boolean | undefined;
  /** Leaves the cluster, finishes in-flight calls, and releases everything. */
  stop(): Promise<void>;
}

/**
 * Starts a cache node. Rejects with a one-line error when the address is in
 * use or etcd cannot be reached within `etcd.timeout`, leaving nothing
 * running.
 *
 * @example A node in a static three-node cluster
 * ```ts ignore
 * import { Group, GroupRegistry } from "@mccache/core";
 * import { consoleLogger, startNode } from "@mccache/core/node";
 *
 * const registry = new GroupRegistry();
 * new Group({ name: "scores", maxBytes: 64 << 20, getter: (key) => key, registry });
 * const node = await startNode({
 *   addr: "127.0.0.1:8001",
 *   registry,
 *   peers: ["127.0.0.1:8001", "127.0.0.1:8002", "127.0.0.1:8003"],
 *   logger: consoleLogger("info"),
 * });
 * Deno.addSignalListener("SIGTERM", () => node.stop());
 * ```
 */
export async function startNode(options: NodeOptions): Promise<CacheNode> {
  const { addr } = options;
  const logger = options.logger ?? silentLogger;
  parseHostPort(addr, "node address");
  const listen = options.listen ?? addr;
  parseHostPort(listen, "node listen address");
  const stack = new CleanupStack();
  const node = await stack.start(() => openNode(stack, options, listen, logger));
  logger.info("node started", {
    addr,
    listen,
    members: node.members.length,
    http: options.httpAddr,
    tls: options.tls !== undefined,
  });
  return node;
}

// The start-up's steps, in order; each defers the cleanup of what it opened.
async function openNode(
  stack: CleanupStack,
  options: NodeOptions,
  listen: string,
  logger: Logger,
): Promise<CacheNode> {
  const { addr, registry } = options;
  const keepalive = options.keepalive ?? DEFAULT_KEEPALIVE_MS;
  const picker = new GrpcPeerPicker(addr, {
    ring: options.ring,
    timeout: options.peerTimeout,
    tls: options.tls,
    channelOptions: keepaliveOptions(keepalive),
    hedgeAfter: options.hedgeAfter,
  });
  stack.defer(() => picker.close());
  const services = await serveGrpc(stack, options, listen, keepalive, picker);
  registry.registerPeers(picker);
  let etcd: EtcdMembership | undefined;
  if (options.peers) picker.setMembers([...options.peers, addr]);
  else etcd = await joinEtcd(stack, options, picker, logger);
  const node = runningNode(options, picker, services, etcd, stack, logger);
  if (options.httpAddr) {
    const http = serveNodeHttp(options.httpAddr, registry, node);
    stack.defer(() => http.shutdown());
  }
  return node;
}

// The gRPC server, bound: on stop, streams end first so that callers move
// them elsewhere instead of waiting, then calls in flight get 5 s to finish.
async function serveGrpc(
  stack: CleanupStack,
  options: NodeOptions,
  listen: string,
  keepalive: number,
  picker: GrpcPeerPicker,
): Promise<CacheServices> {
  const maxValueBytes = options.maxValueBytes ?? 1 << 20;
  const server = new grpc.Server({
    // A message holds one value, or a gateway's batch of ~1 MiB: larger ones
    // are refused before they are buffered.
    "grpc.max_receive_message_length": Math.min(
      MAX_MESSAGE_BYTES,
      Math.max(4 << 20, 2 * maxValueBytes + (1 << 20)),
    ),
    "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
    "grpc.keepalive_time_ms": keepalive,
    "grpc.keepalive_timeout_ms": keepalive,
    "grpc.max_connection_idle_ms": options.idleTimeout ?? 5 * 60_000,
    "grpc.max_concurrent_streams": maxStreamsOf(options),
  });
  const services = addCacheServices(server, options.registry, {
    self: options.addr,
    members: () => picker.members,
    maxValueBytes,
    maxBufferedBytes: options.maxBufferedBytes,
  });
  await bind(server, listen, serverCredentials(options.tls));
  stack.defer(() => {
    services.endStreams();
    return shutdown(server, 5000);
  });
  return services;
}

function runningNode(
  options: NodeOptions,
  picker: GrpcPeerPicker,
  services: CacheServices,
  etcd: EtcdMembership | undefined,
  stack: CleanupStack,
  logger: Logger,
): CacheNode {
  let stopping = false;
  const stop = once(async () => {
    stopping = true;
    await stopNode(options, etcd, stack, logger);
  });
  const discovery = etcd?.discovery;
  return {
    addr: options.addr,
    httpAddr: options.httpAddr,
    get members() {
      return picker.members;
    },
    get healthy() {
      return !stopping;
    },
    get etcdConnected() {
      return discovery?.connected;
    },
    get bufferedBytes() {
      return services.bufferedBytes;
    },
    get refusedMessages() {
      return services.refusedMessages;
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

async function stopNode(
  options: NodeOptions,
  etcd: EtcdMembership | undefined,
  stack: CleanupStack,
  logger: Logger,
): Promise<void> {
  const { addr } = options;
  logger.info("node stopping", { addr });
  // Leave the ring first, so callers move away, then finish what is in flight.
  if (etcd) {
    await etcd.leave();
    await new Promise((resolve) => setTimeout(resolve, options.drain ?? 300));
  }
  await stack.close();
  logger.info("node stopped", { addr });
}

interface EtcdMembership {
  discovery: EtcdDiscovery;
  leave: () => Promise<void>;
}

async function joinEtcd(
  stack: CleanupStack,
  options: NodeOptions,
  picker: GrpcPeerPicker,
  logger: Logger,
): Promise<EtcdMembership> {
  const etcd = options.etcd ?? {};
  const { client, discovery, members, registrationOf } = await watchEtcdMembers(stack, {
    ...etcd,
    logger,
    seedRing: options.ring?.compat === "seed",
    // Members had a lease TTL to register again when etcd came back empty.
    graceMs: (etcd.leaseTtl ?? 5) * 1000,
    onChange: (members, registrationOf) => picker.setMembers(members, registrationOf),
  });
  picker.setMembers(members, registrationOf);
  const registrar = new EtcdRegistrar(client, options.addr, {
    prefix: etcd.prefix,
    leaseTtl: etcd.leaseTtl,
    logger,
  });
  const leave = once(() => registrar.stop());
  stack.defer(leave);
  await registrar.start({ timeout: etcd.timeout ?? 5000 });
  return { discovery, leave };
}

function bind(
  server: grpc.Server,
  addr: string,
  credentials: grpc.ServerCredentials,
): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(addr, credentials, (error, port) => {
      if (error) {
        const inUse = /EADDRINUSE|address already in use/i.test(error.message);
        const why = inUse ? "address already in use" : error.message;
        reject(new Error(`Cannot listen on ${addr}: ${why}`));
      } else resolve(port);
    });
  });
}

function shutdown(server: grpc.Server, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, timeoutMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function maxStreamsOf(options: NodeOptions): number {
  const streams = options.maxStreams ?? DEFAULT_MAX_STREAMS;
  if (!Number.isInteger(streams) || streams < 1 || streams > 2 ** 31 - 1) {
    throw new RangeError(
      `Cannot start node: maxStreams must be an integer from 1 to ${
        2 ** 31 - 1
      }: received ${streams}`,
    );
  }
  return streams;
}
