/**
 * {@linkcode GrpcUpstream}: how a gateway reaches the cache nodes: one
 * grpc-js channel whose resolver knows the members and whose `mccache_ring`
 * policy sends each call to the owner of its key.
 *
 * @module
 */

import * as grpc from "@grpc/grpc-js";
import { HashRing, type HashRingOptions } from "../hash_ring.ts";
import { PeerError } from "../errors.ts";
import { ATTEMPT_METADATA_KEY, HASH_METADATA_KEY } from "../grpc/balancer.ts";
import { deadlineOf } from "../grpc/deadline.ts";
import { NODE_CHANNEL_OPTIONS } from "../grpc/peer.ts";
import {
  ETCD_SCHEME,
  MEMBER_SOURCE_OPTION,
  type MemberSource,
  registerResolvers,
  RING_OPTION,
  STATIC_SCHEME,
} from "../grpc/resolver.ts";
import { fromServiceError } from "../grpc/status.ts";
import { CacheClient, type GetResponse } from "../grpc/_proto.ts";

/** A value as a node returned it. */
export interface UpstreamValue {
  /** The value (a fresh buffer the caller may keep). */
  value: Uint8Array<ArrayBuffer>;
  /** Milliseconds it stays fresh, when it expires. */
  ttl: number | undefined;
  /** The node that answered. */
  node: string;
}

/** Options for every upstream call. */
export interface UpstreamCallOptions {
  /** Aborts the call; its deadline (see `deadlineSignal`) travels to the node. */
  signal: AbortSignal;
}

/** What a gateway needs from the cluster. */
export interface Upstream {
  /** Gets a value from the key's owner. */
  get(group: string, key: string, options: UpstreamCallOptions): Promise<UpstreamValue>;
  /** Stores a value at the key's owner (which drops copies elsewhere). */
  set(
    group: string,
    key: string,
    value: Uint8Array,
    ttl: number | undefined,
    options: UpstreamCallOptions,
  ): Promise<void>;
  /** Removes a key everywhere. */
  remove(group: string, key: string, options: UpstreamCallOptions): Promise<void>;
  /** The members the gateway knows of. */
  readonly members: readonly string[];
  /** Closes the channel. */
  close(): void;
}

/** Options for {@linkcode GrpcUpstream}. */
export interface GrpcUpstreamOptions {
  /** Static members, or a source such as an etcd prefix watch. */
  members: readonly string[] | MemberSource;
  /** Key placement; must match the nodes'. @default {{}} */
  ring?: HashRingOptions;
}

// Codes with which a call fails when its node's connection broke (a killed
// node gives UNAVAILABLE, or INTERNAL for a reset stream): safe to retry.
const RETRYABLE = new Set<number>([grpc.status.UNAVAILABLE, grpc.status.INTERNAL]);

/**
 * The cluster, reached through one grpc-js channel routed by key. A call that
 * fails because its node went away is retried once on the next member.
 *
 * @example
 * ```ts ignore
 * import { GrpcUpstream } from "@mccache/core/gateway";
 * import { deadlineSignal } from "@mccache/core/grpc";
 *
 * const upstream = new GrpcUpstream({ members: ["127.0.0.1:8001", "127.0.0.1:8002"] });
 * const { value, node } = await upstream.get("scores", "Rex", { signal: deadlineSignal(2000) });
 * ```
 */
export class GrpcUpstream implements Upstream {
  #client: grpc.Client;
  #hasher: HashRing;
  #source: MemberSource;

  /** Creates the channel; it connects on first use. */
  constructor(options: GrpcUpstreamOptions) {
    registerResolvers();
    const ring = options.ring ?? {};
    this.#hasher = new HashRing(ring);
    const members = options.members;
    this.#source = "subscribe" in members ? members : { members, subscribe: () => () => {} };
    const target = "subscribe" in members
      ? `${ETCD_SCHEME}:///mccache`
      : `${STATIC_SCHEME}:///${members.join(",")}`;
    this.#client = new CacheClient(target, grpc.credentials.createInsecure(), {
      ...NODE_CHANNEL_OPTIONS,
      [MEMBER_SOURCE_OPTION]: this.#source,
      [RING_OPTION]: ring,
    });
  }

  /** The members the channel routes over. */
  get members(): readonly string[] {
    return this.#source.members;
  }

  /** Gets a value from the key's owner. */
  async get(group: string, key: string, options: UpstreamCallOptions): Promise<UpstreamValue> {
    const { response, node } = await this.#call<GetResponse>("Get", key, { group, key }, options);
    return {
      value: new Uint8Array(response.value),
      ttl: response.ttl_ms > 0 ? response.ttl_ms : undefined,
      node,
    };
  }

  /** Stores a value at the key's owner. */
  async set(
    group: string,
    key: string,
    value: Uint8Array,
    ttl: number | undefined,
    options: UpstreamCallOptions,
  ): Promise<void> {
    await this.#call("Set", key, { group, key, value, ttl_ms: ttl ?? 0 }, options);
  }

  /** Removes a key from its owner and every other node. */
  async remove(group: string, key: string, options: UpstreamCallOptions): Promise<void> {
    await this.#call("Remove", key, { group, key }, options);
  }

  /** Closes the channel. */
  close(): void {
    this.#client.close();
  }

  async #call<Res>(
    method: string,
    key: string,
    request: object,
    options: UpstreamCallOptions,
  ): Promise<{ response: Res; node: string }> {
    const hash = String(this.#hasher.hashKey(key));
    try {
      return await this.#attempt<Res>(method, hash, 0, request, options.signal);
    } catch (error) {
      const code = (error as PeerError).cause as Partial<grpc.ServiceError> | undefined;
      if (!(error instanceof PeerError) || !RETRYABLE.has(code?.code ?? -1)) throw error;
      return await this.#attempt<Res>(method, hash, 1, request, options.signal);
    }
  }

  #attempt<Res>(
    method: string,
    hash: string,
    attempt: number,
    request: object,
    signal: AbortSignal,
  ): Promise<{ response: Res; node: string }> {
    if (signal.aborted) return Promise.reject(signal.reason);
    const metadata = new grpc.Metadata();
    metadata.set(HASH_METADATA_KEY, hash);
    if (attempt > 0) metadata.set(ATTEMPT_METADATA_KEY, String(attempt));
    const deadline = deadlineOf(signal) ?? Infinity;
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        call.cancel();
        reject(signal.reason);
      };
      const rpc = (this.#client as unknown as Record<string, UnaryMethod<Res>>)[method];
      const call = rpc.call(this.#client, request, metadata, { deadline }, (error, response) => {
        signal.removeEventListener("abort", onAbort);
        if (error) reject(fromServiceError(error, call.getPeer()));
        else resolve({ response: response!, node: call.getPeer() });
      });
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }
}

type UnaryMethod<Res> = (
  request: object,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (error: grpc.ServiceError | null, response?: Res) => void,
) => grpc.ClientUnaryCall;
