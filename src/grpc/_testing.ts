// In-process cache nodes over real loopback sockets, for the gRPC and
// gateway tests. Not published.
import * as grpc from "@grpc/grpc-js";
import { NotFoundError } from "../errors.ts";
import type { GetterFunc } from "../getter.ts";
import { Group } from "../group.ts";
import { GroupRegistry } from "../registry.ts";
import { GrpcPeerPicker } from "./peer_picker.ts";
import { addCacheServices } from "./server.ts";

export interface TestNode {
  addr: string;
  registry: GroupRegistry;
  picker: GrpcPeerPicker;
  server: grpc.Server;
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
  const server = new grpc.Server();
  const addr = await listenOnLoopback(server);
  const picker = new GrpcPeerPicker(addr);
  addCacheServices(server, registry, { self: addr, members: () => picker.members });
  registry.registerPeers(picker);
  return { addr, registry, picker, server, loads, aborted };
}

/** Binds `server` to a free loopback port; returns its address. */
export async function listenOnLoopback(server: grpc.Server): Promise<string> {
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(
      "127.0.0.1:0",
      grpc.ServerCredentials.createInsecure(),
      (error, port) => error ? reject(error) : resolve(port),
    )
  );
  return `127.0.0.1:${port}`;
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
