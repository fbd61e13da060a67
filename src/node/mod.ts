/**
 * A cache node as a library: {@linkcode startNode} serves a registry's groups
 * over gRPC, joins the cluster through etcd (or a static peer list), routes
 * keys to their owners, and serves `/healthz` and `/metrics`.
 *
 * @example Embed a node with your own groups
 * ```ts ignore
 * import { Group, GroupRegistry } from "@mccache/core";
 * import { consoleLogger, originGetter, startNode } from "@mccache/core/node";
 *
 * const registry = new GroupRegistry();
 * new Group({
 *   name: "users",
 *   maxBytes: 64 << 20,
 *   getter: originGetter("http://127.0.0.1:9000/users/{key}"),
 *   registry,
 * });
 * const node = await startNode({
 *   addr: "127.0.0.1:8001",
 *   registry,
 *   etcd: { endpoints: ["127.0.0.1:2379"] },
 *   httpAddr: "127.0.0.1:9101",
 *   logger: consoleLogger("info"),
 * });
 * ```
 *
 * @module
 */

export { type HostPort, parseHostPort } from "../parse.ts";
export { type HttpHandle, type NodeStatus, serveNodeHttp } from "./http.ts";
export { createNodeMetrics, type NodeMetrics, type NodeMetricsSource } from "./metrics.ts";
export { type CacheNode, type NodeEtcdOptions, type NodeOptions, startNode } from "./node.ts";
export { originGetter, type OriginGetterOptions, OriginTooLargeError } from "./origin.ts";
export {
  consoleLogger,
  LOG_FORMATS,
  LOG_LEVELS,
  type LogFormat,
  type Logger,
  type LogLevel,
  silentLogger,
} from "../log/logger.ts";
export {
  addOriginGroups,
  type DefineGroups,
  type DefineGroupsOptions,
  loadGroupsModule,
  type OriginGroupsOptions,
} from "./groups.ts";
export { parseBytes, parseDuration } from "../parse.ts";
export { formatBytes, formatSummary, listMembers } from "../log/summary.ts";
