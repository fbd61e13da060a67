/**
 * The HTTP gateway: {@linkcode startGateway} serves
 * `GET|PUT|DELETE /mccache/<group>/<key>` (and the Go original's
 * `?group=&key=` form) and sends each request over gRPC to the key's owner,
 * chosen inside grpc-js by the `etcd:///` resolver and the `mccache_ring`
 * load-balancing policy.
 *
 * @example Start a gateway over a static cluster
 * ```ts ignore
 * import { startGateway } from "@mccache/core/gateway";
 *
 * const gateway = await startGateway({
 *   addr: "127.0.0.1:9999",
 *   peers: ["127.0.0.1:8001", "127.0.0.1:8002", "127.0.0.1:8003"],
 * });
 * ```
 *
 * @module
 */

export { type Gateway, type GatewayOptions, startGateway } from "./gateway.ts";
export { createGatewayHandler, type GatewayHandlerOptions } from "./handler.ts";
export { GatewayMetrics } from "./metrics.ts";
export { GrpcUpstream, type GrpcUpstreamOptions } from "../grpc/grpc_upstream.ts";
export {
  type CacheStatus,
  type GroupStatus,
  type LookupResult,
  type MemberStatus,
  type SeriesPoint,
  type SeriesSummary,
  StatusCollector,
  type StatusCollectorOptions,
  type StatusReport,
  type StatusSource,
  type Totals,
} from "./status/report.ts";
export { LiveLine } from "./status/live_line.ts";
export type { Upstream, UpstreamCallOptions, UpstreamValue, WriteResult } from "./upstream.ts";
