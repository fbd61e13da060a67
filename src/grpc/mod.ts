/**
 * The gRPC transport of mccache: serve a registry's groups
 * ({@linkcode addCacheServices}), reach other nodes ({@linkcode GrpcPeer},
 * {@linkcode GrpcPeerPicker}), and carry deadlines and errors across.
 *
 * @example Serve groups and route keys between nodes
 * ```ts ignore
 * import * as grpc from "@grpc/grpc-js";
 * import { GroupRegistry } from "@mccache/core";
 * import { addCacheServices, GrpcPeerPicker } from "@mccache/core/grpc";
 *
 * const registry = new GroupRegistry();
 * const picker = new GrpcPeerPicker("127.0.0.1:8001");
 * registry.registerPeers(picker);
 * const server = new grpc.Server();
 * addCacheServices(server, registry, { self: "127.0.0.1:8001", members: () => picker.members });
 * ```
 *
 * @module
 */

export { type Deadline, deadline, deadlineOf, deadlineSignal } from "./deadline.ts";
export {
  DEFAULT_KEEPALIVE_MS,
  type GrpcChannelOptions,
  GrpcPeer,
  type GrpcPeerOptions,
  keepaliveOptions,
  NODE_CHANNEL_OPTIONS,
} from "./peer.ts";
export { GrpcPeerPicker, type GrpcPeerPickerOptions } from "./peer_picker.ts";
export { HEALTH_OPTION, MemberHealth, type MemberHealthOptions } from "./health.ts";
export { DEFAULT_SERVER_NAME, type TlsOptions } from "./tls.ts";
export {
  type MemberProtocol,
  MemberProtocols,
  type MemberProtocolsOptions,
  PROTOCOL_METADATA_KEY,
  PROTOCOLS_OPTION,
  unsupportedWrite,
} from "./protocols.ts";
export {
  addCacheServices,
  type CacheServiceHost,
  type CacheServiceOptions,
  type CacheServices,
  MAX_MESSAGE_BYTES,
} from "./server.ts";
export { NODE_METADATA_KEY } from "./_item_stream.ts";
export {
  brokenConnection,
  ERROR_METADATA_KEY,
  errorFromStatus,
  type FailedCall,
  fromServiceError,
} from "./status.ts";
export type { CacheStatsMessage, GroupStatsMessage, StatsResponse } from "./messages.ts";
export { MEMBER_METADATA_KEY, RING_POLICY } from "./balancer.ts";
export { CURRENT_RING_OPTION, CurrentRing, type PickRule, RingSnapshot } from "./ring_snapshot.ts";
export {
  ETCD_SCHEME,
  MEMBER_SOURCE_OPTION,
  type MemberSource,
  registerResolvers,
  RING_OPTION,
  STATIC_SCHEME,
} from "./resolver.ts";
