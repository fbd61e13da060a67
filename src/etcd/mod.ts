/**
 * etcd membership for mccache: a node registers its address with
 * {@linkcode EtcdRegistrar}; gateways and peers follow the registered nodes
 * with {@linkcode EtcdDiscovery}. Keys and values are those of the Go
 * original (`mccache/<addr>` under a 5 s lease; its nodes write
 * `{"Op":0,"Addr":"<addr>","Metadata":null}`, ours `{"Addr":"<addr>"}`, and
 * both read either), so both can share one etcd. {@linkcode createEtcdClient}
 * makes an etcd3 client that recovers within about a second of an etcd
 * outage.
 *
 * This export path loads `etcd3` and `@grpc/grpc-js`; the core
 * (`@mccache/core`) does not.
 *
 * @example Register a node and follow the cluster
 * ```ts ignore
 * import { createEtcdClient, EtcdDiscovery, EtcdRegistrar } from "@mccache/core/etcd";
 *
 * const client = createEtcdClient({ endpoints: ["127.0.0.1:2379"] });
 * const registrar = new EtcdRegistrar(client, "127.0.0.1:8001");
 * const discovery = new EtcdDiscovery(client, {
 *   onChange: (members) => console.log("members", members),
 * });
 * await registrar.start({ timeout: 3000 });
 * console.log("members", await discovery.start({ timeout: 3000 }));
 *
 * await registrar.stop();
 * await discovery.stop();
 * client.close();
 * ```
 *
 * @module
 */

export {
  createEtcdClient,
  EtcdClient,
  type EtcdClientOptions,
  type EtcdTlsOptions,
} from "./client.ts";
export { EtcdDiscovery, type EtcdDiscoveryOptions, type Reachability } from "./discovery.ts";
export { EtcdRegistrar, type EtcdRegistrarOptions } from "./registrar.ts";
