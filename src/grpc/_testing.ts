// In-process cache nodes over real loopback sockets, for the gRPC and
// gateway tests. Not published.
import * as grpc from "@grpc/grpc-js";
import { NotFoundError } from "../errors.ts";
import type { GetterFunc } from "../getter.ts";
import { Group } from "../group.ts";
import { GroupRegistry } from "../registry.ts";
import { GrpcPeerPicker } from "./peer_picker.ts";
import { addCacheServices, type CacheServices } from "./server.ts";
import { CacheClient, GeeCacheClient } from "./_proto.ts";
import { freePort } from "../_testing/ports.ts";

// The service client, for tests (in tests/ too) that speak mccache.v1 to a
// node directly instead of through a GrpcUpstream.
export { CacheClient } from "./_proto.ts";

export interface TestNode {
  addr: string;
  registry: GroupRegistry;
  picker: GrpcPeerPicker;
  server: grpc.Server;
  services: CacheServices;
  loads: string[];
  aborted: string[];
}

async function startTestNode(delayMs: number, getter?: GetterFunc): Promise<TestNode> {
  const registry = new GroupRegistry();
  const loads: string[] = [];
  const aborted: string[] = [];
  new Group({
    name: "g",
    maxBytes: 1 << 20,
    registry,
    getter: getter ?? (async (key, { signal }) => {
      loads.push(key);
      if (key.startsWith("missing")) throw new NotFoundError(`${key} not exist`);
      if (delayMs > 0) {
        await new Promise((resolve, reject) => {
          const timer = setTimeout(resolve, delayMs);
          signal.addEventListener("abort", () => {
            aborted.push(key);
            clearTimeout(timer);
            reject(signal.reason);
          });
        });
      }
      return { value: `value of ${key}`, ttl: 60_000 };
    }),
  });
  // The picker needs the address, which the server needs first.
  const ring: { picker?: GrpcPeerPicker } = {};
  const members = () => ring.picker?.members ?? [];
  const { server, services, addr } = await serveOnFreePort(registry, members);
  const picker = ring.picker = new GrpcPeerPicker(addr);
  registry.registerPeers(picker);
  return { addr, registry, picker, server, services, loads, aborted };
}

/**
 * A server whose services were added before its port was bound, as a node's
 * are (GetStream is then served directly), which needs its address first:
 * a port that was free a moment ago, and another if it was taken since.
 */
export async function serveOnFreePort(
  registry: GroupRegistry,
  members: () => readonly string[] = () => [],
  options?: grpc.ServerOptions,
): Promise<{ server: grpc.Server; services: CacheServices; addr: string }> {
  for (let attempt = 1;; attempt++) {
    const addr = `127.0.0.1:${freePort()}`;
    const server = new grpc.Server(options);
    const services = addCacheServices(server, registry, { self: addr, members });
    try {
      await bind(server, addr);
      return { server, services, addr };
    } catch (error) {
      server.forceShutdown();
      if (attempt === 5) throw error;
    }
  }
}

/** Binds `server` to a free loopback port; returns its address. */
export async function listenOnLoopback(server: grpc.Server): Promise<string> {
  return `127.0.0.1:${await bind(server, "127.0.0.1:0")}`;
}

function bind(server: grpc.Server, addr: string): Promise<number> {
  return new Promise((resolve, reject) =>
    server.bindAsync(
      addr,
      grpc.ServerCredentials.createInsecure(),
      (error, port) => error ? reject(error) : resolve(port),
    )
  );
}

/**
 * Starts `count` nodes in this process, on real loopback sockets, each with
 * a group "g" (values "value of <key>", keys "missing…" not found; the
 * getter sleeps `delayMs`, abortably) or `getter`, routing by each other.
 */
export async function cluster(
  count: number,
  delayMs = 0,
  getter?: GetterFunc,
): Promise<TestNode[] & AsyncDisposable> {
  const nodes = await Promise.all(
    Array.from({ length: count }, () => startTestNode(delayMs, getter)),
  );
  for (const node of nodes) node.picker.setMembers(nodes.map((n) => n.addr));
  return Object.assign(nodes, {
    [Symbol.asyncDispose]: () => {
      for (const node of nodes) {
        node.picker.close();
        node.server.forceShutdown();
      }
      return Promise.resolve();
    },
  });
}

/** An in-process node of the Go original: it serves only geecachepb.McCache/Get. */
export interface InProcessGoOriginal extends AsyncDisposable {
  addr: string;
  /** The keys it was asked for, in order. */
  gets: string[];
}

/**
 * Starts a server with only the Go original's `Get` of group "g" (values
 * "value of <key>", keys "missing…" fail), failing with plain errors as the
 * Go original does (UNKNOWN and a message); every other method is
 * UNIMPLEMENTED. With `stats`, it also answers mccache's `Stats`, so that a
 * gateway's probe takes it for an mccache node until a GetStream is refused.
 */
export async function startInProcessGoOriginal(
  options: { stats?: boolean } = {},
): Promise<InProcessGoOriginal> {
  const gets: string[] = [];
  const server = new grpc.Server();
  if (options.stats) {
    server.addService({ Stats: CacheClient.service.Stats }, {
      Stats: (_: unknown, callback: grpc.sendUnaryData<object>) => callback(null, {}),
    });
  }
  server.addService(GeeCacheClient.service, {
    Get(
      call: grpc.ServerUnaryCall<{ group: string; key: string }, unknown>,
      callback: grpc.sendUnaryData<{ value: Uint8Array }>,
    ) {
      const { group, key } = call.request;
      gets.push(key);
      if (group !== "g" || key === "" || key.startsWith("missing")) {
        callback({ code: grpc.status.UNKNOWN, details: `${key} not exist` });
      } else callback(null, { value: new TextEncoder().encode(`value of ${key}`) });
    },
  });
  const addr = await listenOnLoopback(server);
  return {
    addr,
    gets,
    [Symbol.asyncDispose]: () => Promise.resolve(server.forceShutdown()),
  };
}

/** A member source that a test changes by hand (`set`), counting its subscribers. */
export function fakeMemberSource(initial: readonly string[]): {
  members: readonly string[];
  readonly subscribers: number;
  subscribe(listener: () => void): () => void;
  set(members: readonly string[]): void;
} {
  const listeners = new Set<() => void>();
  return {
    members: initial,
    get subscribers() {
      return listeners.size;
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    set(members) {
      this.members = members;
      for (const listener of listeners) listener();
    },
  };
}
