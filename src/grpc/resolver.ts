/**
 * grpc-js resolvers for cache nodes: `etcd:///<prefix>`, fed by a member
 * source (the etcd prefix watch), and `static:///host:port,host:port`. Both
 * hand the channel the `mccache_ring` policy, so callers need no service
 * config of their own, and the {@linkcode CurrentRing} the policy places
 * calls by: the one given in {@linkcode CURRENT_RING_OPTION} (shared with
 * the rest of the process), else one of their own.
 *
 * @module
 */

import * as grpc from "@grpc/grpc-js";
import type { HashRingOptions } from "../hash_ring.ts";
import { EPOCHS_ATTRIBUTE, registerRingBalancer, RING_POLICY } from "./balancer.ts";
import { CURRENT_RING_OPTION, CurrentRing } from "./ring_snapshot.ts";

const { registerResolver, splitHostPort, statusOrFromError, statusOrFromValue } = grpc.experimental;

/** A changing set of node addresses, e.g. an etcd prefix watch. */
export interface MemberSource {
  /** The current members. */
  readonly members: readonly string[];
  /** Calls `listener` after each change; returns a function that unsubscribes. */
  subscribe(listener: () => void): () => void;
  /**
   * Names a member's current registration (e.g. its etcd lease), which
   * changes when it registers again, as a restarted node does.
   * @default {undefined (every member registered once)}
   */
  registrationOf?(member: string): string | undefined;
}

/**
 * Channel option carrying the {@linkcode MemberSource} of an `etcd:///`
 * target (unless {@linkcode CURRENT_RING_OPTION} carries the members).
 */
export const MEMBER_SOURCE_OPTION = "grpc.internal.no_subchannel.mccache_member_source";
/**
 * Channel option carrying the ring options (`HashRingOptions`) every node
 * uses (unless {@linkcode CURRENT_RING_OPTION} carries the ring).
 */
export const RING_OPTION = "grpc.internal.no_subchannel.mccache_ring";

/** Scheme of targets whose members come from a {@linkcode MemberSource}. */
export const ETCD_SCHEME = "etcd";
/** Scheme of targets that list their members: `static:///127.0.0.1:8001,127.0.0.1:8002`. */
export const STATIC_SCHEME = "static";

function staticSource(target: grpc.experimental.GrpcUri): MemberSource {
  const members = target.path.replace(/^\/+/, "").split(",").filter((m) => m !== "");
  return { members, subscribe: () => () => {} };
}

// One per channel. The channel destroys it when it goes idle and calls
// updateResolution() on the same instance when it wakes up.
class MemberResolver implements grpc.experimental.Resolver {
  #listener: grpc.experimental.ResolverListener;
  #source: MemberSource | undefined;
  #ringOptions: HashRingOptions;
  // The shared ring from the channel options, or one of its own (#owned)
  // made from #source while it resolves.
  #ring: CurrentRing | undefined;
  #owned = false;
  #unsubscribe: (() => void) | undefined;
  #generation = 0;
  #scheduled = false;
  // Members of the last resolution and the epoch each joined in.
  #epochs = new Map<string, number>();
  #nextEpoch = 1;

  constructor(
    target: grpc.experimental.GrpcUri,
    listener: grpc.experimental.ResolverListener,
    options: grpc.ChannelOptions,
  ) {
    this.#listener = listener;
    this.#ring = options[CURRENT_RING_OPTION] as CurrentRing | undefined;
    this.#ringOptions = (options[RING_OPTION] as HashRingOptions | undefined) ?? {};
    this.#source = target.scheme === STATIC_SCHEME
      ? staticSource(target)
      : options[MEMBER_SOURCE_OPTION] as MemberSource | undefined;
  }

  // The :authority of calls; a static target's path (a list) is not a host.
  static getDefaultAuthority(): string {
    return "mccache";
  }

  updateResolution(): void {
    if (this.#ring === undefined && this.#source !== undefined) {
      this.#ring = new CurrentRing(this.#source, this.#ringOptions);
      this.#owned = true;
    }
    this.#unsubscribe ??= this.#ring?.subscribe(() => this.#schedule());
    this.#schedule();
  }

  destroy(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    if (this.#owned) {
      this.#ring!.close();
      this.#ring = undefined;
      this.#owned = false;
    }
    this.#generation++;
    this.#scheduled = false;
  }

  // grpc-js must never be called back from inside updateResolution: emit on
  // a later tick, coalescing bursts of changes into one resolution.
  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    const generation = this.#generation;
    setTimeout(() => {
      if (generation !== this.#generation) return;
      this.#scheduled = false;
      this.#emit();
    }, 0);
  }

  #emit(): void {
    const ring = this.#ring;
    if (ring === undefined) {
      const details = `No member source: pass one in the ${MEMBER_SOURCE_OPTION} channel option`;
      this.#listener(statusOrFromError({ code: grpc.status.UNAVAILABLE, details }), {}, null, "");
      return;
    }
    // The endpoints are those of the snapshot the balancer places calls by.
    const endpoints: grpc.experimental.Endpoint[] = [];
    const epochs = new Map<string, number>();
    for (const member of ring.snapshot.members) {
      const hostPort = splitHostPort(member);
      if (hostPort?.port === undefined) continue;
      endpoints.push({ addresses: [{ host: hostPort.host, port: hostPort.port }] });
      epochs.set(member, this.#epochs.get(member) ?? this.#nextEpoch++);
    }
    this.#epochs = epochs;
    const serviceConfig = {
      loadBalancingConfig: [{ [RING_POLICY]: { ...ring.options } }],
      methodConfig: [],
    };
    this.#listener(
      statusOrFromValue(endpoints),
      { [EPOCHS_ATTRIBUTE]: epochs, [CURRENT_RING_OPTION]: ring },
      statusOrFromValue(serviceConfig),
      `${endpoints.length} members`,
    );
  }
}

let registered = false;

/**
 * Registers the `etcd` and `static` schemes and the `mccache_ring` policy
 * with grpc-js (once per process).
 *
 * @example A channel that routes each call to its key's owner
 * ```ts ignore
 * import * as grpc from "@grpc/grpc-js";
 * import { MEMBER_SOURCE_OPTION, registerResolvers } from "@mccache/core/grpc";
 *
 * registerResolvers();
 * const channel = new grpc.Client("etcd:///mccache", grpc.credentials.createInsecure(), {
 *   [MEMBER_SOURCE_OPTION]: discovery, // e.g. an EtcdDiscovery
 * });
 * ```
 */
export function registerResolvers(): void {
  if (registered) return;
  registered = true;
  registerRingBalancer();
  registerResolver(ETCD_SCHEME, MemberResolver);
  registerResolver(STATIC_SCHEME, MemberResolver);
}
