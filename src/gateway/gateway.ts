/**
 * {@linkcode startGateway}: the HTTP gateway as a library call: `Deno.serve`
 * in front of a {@linkcode GrpcUpstream} that discovers the nodes through
 * etcd (or a static list).
 *
 * @module
 */

import type { Etcd3 } from "etcd3";
import type { HashRingOptions } from "../hash_ring.ts";
import { createEtcdClient } from "../etcd/client.ts";
import { EtcdDiscovery } from "../etcd/discovery.ts";
import type { MemberSource } from "../grpc/resolver.ts";
import type { TlsOptions } from "../grpc/tls.ts";
import { type Logger, silentLogger } from "../log/logger.ts";
import type { NodeEtcdOptions } from "../node/node.ts";
import { parseHostPort } from "../parse.ts";
import { createGatewayHandler, type GatewayHandlerOptions } from "./handler.ts";
import { GatewayMetrics } from "./metrics.ts";
import { GrpcUpstream } from "../grpc/grpc_upstream.ts";
import { StatusCollector, type StatusReport, type StatusSource } from "./status/report.ts";

/** Options for {@linkcode startGateway}. */
export interface GatewayOptions
  extends Omit<GatewayHandlerOptions, "upstream" | "metrics" | "healthy" | "status"> {
  /** Where to serve HTTP, `host:port`. @default {"127.0.0.1:9999"} */
  addr?: string;
  /** Static members; etcd is not used. @default {undefined} */
  peers?: string[];
  /** Discovery through etcd when `peers` is not given. @default {{}} */
  etcd?: Omit<NodeEtcdOptions, "leaseTtl">;
  /** Key placement; must match the nodes'. @default {{}} */
  ring?: HashRingOptions;
  /** Mutual TLS with the nodes. @default {undefined (plaintext)} */
  tls?: TlsOptions;
  /** How often connections to nodes are pinged, in milliseconds. @default {2000} */
  keepalive?: number;
  /** The least wait before a get is hedged to the next node, in milliseconds (see `GrpcUpstreamOptions`). @default {50} */
  hedgeAfter?: number;
  /** Lifecycle log lines. @default {silentLogger} */
  logger?: Logger;
}

/** A running gateway. */
export interface Gateway extends AsyncDisposable {
  /** The HTTP address it listens on (the real port when 0 was asked for). */
  readonly addr: string;
  /** The nodes it routes over. */
  readonly members: readonly string[];
  /** What `GET /status.json` answers now. */
  status(): Promise<StatusReport>;
  /** Stops serving and disconnects. */
  stop(): Promise<void>;
}

/**
 * Starts a gateway. Rejects with a one-line error when the address is in use
 * or etcd cannot be reached within `etcd.timeout`.
 *
 * @example
 * ```ts ignore
 * import { startGateway } from "@mccache/core/gateway";
 *
 * const gateway = await startGateway({ addr: "127.0.0.1:9999", peers: ["127.0.0.1:8001"] });
 * const response = await fetch(`http://${gateway.addr}/mccache/scores/Rex`);
 * ```
 */
export async function startGateway(options: GatewayOptions = {}): Promise<Gateway> {
  const logger = options.logger ?? silentLogger;
  const { hostname, port } = parseHostPort(options.addr ?? "127.0.0.1:9999", "gateway address", {
    allowZero: true,
  });
  const cleanups: (() => Promise<void> | void)[] = [];
  const cleanup = async () => {
    while (cleanups.length > 0) await cleanups.pop()!();
  };
  try {
    const seedRing = options.ring?.compat === "seed";
    const etcd = options.peers
      ? undefined
      : await discover({ ...options.etcd, seedRing }, logger, cleanups);
    const members = options.peers ?? etcd!.members;
    const source = {
      members: () => upstream.members,
      protocolOf: (member: string) => upstream.protocols.of(member),
      etcdConnected: etcd?.connected,
    };
    const metrics = new GatewayMetrics(source);
    const onDropFailed = () => metrics.dropFailed();
    const upstream = new GrpcUpstream({
      members,
      ring: options.ring,
      tls: options.tls,
      keepalive: options.keepalive,
      hedgeAfter: options.hedgeAfter,
      onDropFailed,
    });
    cleanups.push(() => upstream.close());
    const tls = options.tls !== undefined;
    let addr = `${hostname}:${port}`;
    const status = statusCollector(upstream, metrics, options, () => addr);
    cleanups.push(() => status.close());
    const handler = createGatewayHandler({ ...options, upstream, metrics, status });
    const server = listen(hostname, port, handler);
    cleanups.push(() => server.shutdown());
    addr = `${server.addr.hostname}:${server.addr.port}`;
    logger.info("gateway started", { addr, members: upstream.members.length, tls });
    const stop = once(async () => {
      logger.info("gateway stopping", { addr });
      await cleanup();
    });
    return {
      addr,
      status: () => status.report(),
      get members() {
        return upstream.members;
      },
      stop,
      [Symbol.asyncDispose]: stop,
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

async function discover(
  options: Omit<NodeEtcdOptions, "leaseTtl"> & { seedRing: boolean },
  logger: Logger,
  cleanups: (() => Promise<void> | void)[],
): Promise<{ members: MemberSource; connected: () => boolean }> {
  const client: Etcd3 = createEtcdClient({
    endpoints: options.endpoints,
    username: options.username,
    password: options.password,
    tls: options.tls,
  });
  cleanups.push(() => client.close());
  const listeners = new Set<() => void>();
  const discovery = new EtcdDiscovery(client, {
    prefix: options.prefix,
    logger,
    seedRing: options.seedRing,
    onChange: () => listeners.forEach((listener) => listener()),
  });
  await discovery.start({ timeout: options.timeout ?? 5000 });
  cleanups.push(() => discovery.stop());
  const members: MemberSource = {
    get members() {
      return discovery.members;
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    registrationOf: (member) => discovery.registrationOf(member),
  };
  return { members, connected: () => discovery.connected };
}

// What the status page reads: the upstream's ring, protocols and health,
// and the request totals of the metrics.
function statusCollector(
  upstream: GrpcUpstream,
  metrics: GatewayMetrics,
  options: GatewayOptions,
  addr: () => string,
): StatusCollector {
  const source: StatusSource = {
    get ring() {
      return upstream.ring;
    },
    protocolOf: (member) => upstream.protocols.of(member),
    healthy: (member) =>
      upstream.protocols.connected(member) && !upstream.health.suspect(member) &&
      upstream.protocols.of(member) !== "none",
    stats: (member, timeoutMs) => upstream.stats(member, timeoutMs),
    get: (group, key, options) => upstream.get(group, key, options),
    totals: () => metrics.totals(),
  };
  return new StatusCollector(source, {
    get addr() {
      return addr();
    },
    tls: options.tls !== undefined,
    ring: options.ring?.compat === "seed" ? "seed" : "default",
    timeout: options.timeout,
  });
}

function listen(
  hostname: string,
  port: number,
  handler: (request: Request) => Response | Promise<Response>,
): Deno.HttpServer<Deno.NetAddr> {
  try {
    return Deno.serve({ hostname, port, onListen: () => {} }, handler);
  } catch (error) {
    const why = error instanceof Deno.errors.AddrInUse ? "address already in use" : String(error);
    throw new Error(`Cannot listen on ${hostname}:${port}: ${why}`);
  }
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let result: Promise<void> | undefined;
  return () => result ??= fn();
}
