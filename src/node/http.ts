/**
 * A node's HTTP side: `/healthz` and `/metrics`.
 *
 * @module
 */

import type { GroupRegistry } from "../registry.ts";
import { parseHostPort } from "../parse.ts";
import { createNodeMetrics } from "./metrics.ts";
import { serveHttp } from "../lifecycle/lifecycle.ts";

/** What the HTTP side reads from its node. */
export interface NodeStatus {
  /** Ring members as the node sees them. */
  readonly members: readonly string[];
  /** True while the node serves, whether or not etcd is reachable. */
  readonly healthy: boolean;
  /** Bytes that gRPC messages still arriving hold (`maxBufferedBytes`). @default {undefined (not reported)} */
  readonly bufferedBytes?: number;
  /** Messages refused because `maxBufferedBytes` was reached. @default {undefined (not reported)} */
  readonly refusedMessages?: number;
  /** Whether the node's watch on etcd is up; undefined without etcd. */
  readonly etcdConnected?: boolean;
}

/** A running HTTP server. */
export interface HttpHandle {
  /** Stops serving. */
  shutdown(): Promise<void>;
}

/**
 * Serves `/healthz` (200 while the node serves, else 503: an etcd outage
 * shows in `/metrics` as `mccache_etcd_connected 0`, not here) and
 * `/metrics` (Prometheus text) on `addr`.
 *
 * @example Serve /healthz and /metrics
 * ```ts ignore
 * import { GroupRegistry } from "@mccache/core";
 * import { serveNodeHttp } from "@mccache/core/node";
 *
 * const http = serveNodeHttp("127.0.0.1:9101", new GroupRegistry(), { members: [], healthy: true });
 * await http.shutdown();
 * ```
 */
export function serveNodeHttp(
  addr: string,
  registry: GroupRegistry,
  node: NodeStatus,
): HttpHandle {
  const { hostname, port } = parseHostPort(addr, "HTTP address");
  const metrics = createNodeMetrics(registry, {
    members: () => node.members,
    healthy: () => node.healthy,
    buffered: () => ({ bytes: node.bufferedBytes ?? 0, refused: node.refusedMessages ?? 0 }),
    etcdConnected: node.etcdConnected === undefined ? undefined : () => node.etcdConnected === true,
  });
  const server = serveHttp({ hostname, port, addr }, (request) => serve(request, node, metrics));
  return { shutdown: () => server.shutdown() };
}

async function serve(
  request: Request,
  node: NodeStatus,
  metrics: ReturnType<typeof createNodeMetrics>,
): Promise<Response> {
  const { pathname } = new URL(request.url);
  if (request.method !== "GET" && request.method !== "HEAD") {
    return Response.json({ error: "Method not allowed" }, {
      status: 405,
      headers: { allow: "GET, HEAD" },
    });
  }
  if (pathname === "/healthz") {
    return node.healthy ? new Response("ok\n") : new Response("stopping\n", { status: 503 });
  }
  if (pathname === "/metrics") {
    return new Response(await metrics.metrics(), {
      headers: { "content-type": metrics.contentType },
    });
  }
  return Response.json({ error: `Not found: ${pathname}` }, { status: 404 });
}
