/**
 * The `mccache_ring` load-balancing policy for grpc-js: each call goes to
 * the owner of the key whose hash it carries in metadata, or, when the owner
 * is not connected, to the next READY member clockwise on the ring that
 * serves the call's protocol (see {@linkcode MemberProtocols}). A call that
 * names a member in metadata goes to that member only.
 *
 * The ring is not the policy's own: it is the {@linkcode CurrentRing} the
 * resolver hands over (see {@linkcode CURRENT_RING_OPTION}), read at each
 * pick, so the policy places a call by the same snapshot as the rest of the
 * process, even before the resolver has told it of a membership change.
 * The endpoints it is given only say which connections to keep.
 *
 * @module
 */

import * as grpc from "@grpc/grpc-js";
import type { HashRingOptions } from "../hash_ring.ts";
import { HEALTH_OPTION, type MemberHealth } from "./health.ts";
import { type MemberProtocols, PROTOCOLS_OPTION } from "./protocols.ts";
import { CURRENT_RING_OPTION, type CurrentRing, type RingSnapshot } from "./ring_snapshot.ts";
import { RING_POLICY, RingPicker } from "./_ring_picker.ts";

const {
  LeafLoadBalancer,
  QueuePicker,
  UnavailablePicker,
  createChildChannelControlHelper,
  registerLoadBalancerType,
  subchannelAddressToString,
} = grpc.experimental;
const State = grpc.connectivityState;

export {
  ATTEMPT_METADATA_KEY,
  HASH_METADATA_KEY,
  MEMBER_METADATA_KEY,
  RING_POLICY,
} from "./_ring_picker.ts";

type Endpoint = grpc.experimental.Endpoint;
type Picker = grpc.experimental.Picker;
type Leaf = InstanceType<typeof LeafLoadBalancer>;

/**
 * Resolver attribute mapping each member to the epoch it (re)joined in. A
 * new epoch gives a member a new subchannel rather than one still waiting
 * out the reconnect backoff of its previous life (~1 s); the
 * `grpc.internal.no_subchannel` prefix keeps it out of subchannel keys.
 */
export const EPOCHS_ATTRIBUTE = "grpc.internal.no_subchannel.mccache_epochs";
const EPOCH_OPTION = "mccache.member_epoch";

/**
 * The policy's configuration: the ring options, as every node uses them
 * (the calls are placed by the resolver's {@linkcode CurrentRing}, built
 * with the same options).
 */
export class RingConfig implements grpc.experimental.TypedLoadBalancingConfig {
  /** Creates a config; `ring` must match the nodes' placement. */
  constructor(readonly ring: HashRingOptions = {}) {}

  /** The policy name. */
  getLoadBalancerName(): string {
    return RING_POLICY;
  }

  /** The JSON form, as in a service config. */
  toJsonObject(): object {
    return { [RING_POLICY]: { ...this.ring } };
  }

  /** Parses `{ compat?: "default" | "seed", replicas?: number }`; throws on anything else. */
  static createFromJson(json: unknown): RingConfig {
    const { compat, replicas } = (json ?? {}) as { compat?: unknown; replicas?: unknown };
    if (compat !== undefined && compat !== "default" && compat !== "seed") {
      throw new Error(`${RING_POLICY}: compat must be "default" or "seed"`);
    }
    if (replicas !== undefined && (!Number.isInteger(replicas) || (replicas as number) < 1)) {
      throw new Error(`${RING_POLICY}: replicas must be a positive integer`);
    }
    return new RingConfig({ compat, replicas: replicas as number | undefined });
  }
}

interface Child {
  epoch: number;
  leaf: Leaf;
}

// What the children's states are at one update: the makings of a picker.
interface ChildStates {
  ready: Map<string, Picker>;
  connecting: Set<string>;
  refuse: { mccache: Set<string>; goOriginal: Set<string> };
  suspect: Set<string>;
  unreachable: Set<string>;
}

/**
 * The `mccache_ring` policy: one leaf (connection) per member, kept
 * connected; a new picker snapshot on every change of membership or state.
 */
export class RingLoadBalancer implements grpc.experimental.LoadBalancer {
  #helper: grpc.experimental.ChannelControlHelper;
  #children = new Map<string, Child>();
  #ring: CurrentRing | undefined;
  #resolved: RingSnapshot | undefined;
  #lastError = "";
  #paused = false;
  #destroyed = false;
  #protocols: MemberProtocols | undefined;
  #unsubscribe: (() => void) | undefined;
  #health: MemberHealth | undefined;
  #unsubscribeHealth: (() => void) | undefined;

  /** Called by grpc-js. */
  constructor(helper: grpc.experimental.ChannelControlHelper) {
    this.#helper = helper;
  }

  /** Called by grpc-js with each resolution. */
  updateAddressList(
    endpoints: grpc.experimental.StatusOr<Endpoint[]>,
    config: grpc.experimental.TypedLoadBalancingConfig,
    options: grpc.ChannelOptions,
    note: string,
  ): boolean {
    if (!(config instanceof RingConfig)) return false;
    if (!endpoints.ok) {
      // Keep routing by the last membership; fail only if there never was one.
      if (this.#children.size === 0) this.#fail(endpoints.error.details);
      return true;
    }
    const ring = options[CURRENT_RING_OPTION] as CurrentRing | undefined;
    if (ring === undefined) {
      // Only mccache's resolvers (registerResolvers) hand over the ring.
      this.#fail(`${RING_POLICY}: the resolver gave no ${CURRENT_RING_OPTION}`);
      return true;
    }
    this.#watchProtocols(options[PROTOCOLS_OPTION] as MemberProtocols | undefined);
    this.#watchHealth(options[HEALTH_OPTION] as MemberHealth | undefined);
    // Paused: the leaves destroyed and started here publish no picker of a
    // half-built set; one #update() follows.
    this.#paused = true;
    const started = this.#replaceChildren(endpoints.value, options, note);
    this.#ring = ring;
    this.#resolved = ring.snapshot;
    for (const child of started) child.leaf.startConnecting();
    this.#paused = false;
    this.#update();
    return true;
  }

  /** Called by grpc-js when a call needs a connection. */
  exitIdle(): void {
    for (const { leaf } of this.#children.values()) {
      if (leaf.getConnectivityState() === State.IDLE) leaf.exitIdle();
    }
  }

  /** Called by grpc-js; leaves have no backoff of their own to reset. */
  resetBackoff(): void {}

  /** Called by grpc-js when the channel closes or goes idle. */
  destroy(): void {
    this.#destroyed = true;
    this.#unsubscribe?.();
    this.#unsubscribeHealth?.();
    for (const { leaf } of this.#children.values()) leaf.destroy();
    this.#children.clear();
  }

  /** The policy name. */
  getTypeName(): string {
    return RING_POLICY;
  }

  #child(
    addr: string,
    endpoint: Endpoint,
    epoch: number,
    options: grpc.ChannelOptions,
    note: string,
  ): Child {
    const child = { epoch } as Child;
    // A helper per child tells which child changed, and ignores replaced ones.
    const helper = createChildChannelControlHelper(this.#helper, {
      updateState: (state, _picker, error) => {
        if (this.#destroyed || this.#children.get(addr) !== child) return;
        if (error) this.#lastError = `${addr}: ${error}`;
        if (state === State.TRANSIENT_FAILURE) this.#helper.requestReresolution();
        this.#update();
      },
    });
    child.leaf = new LeafLoadBalancer(
      endpoint,
      helper,
      { ...options, [EPOCH_OPTION]: epoch },
      note,
    );
    return child;
  }

  // Protocols learned later change which members a call may skip to.
  #watchProtocols(protocols: MemberProtocols | undefined): void {
    if (protocols === this.#protocols) return;
    this.#unsubscribe?.();
    this.#protocols = protocols;
    this.#unsubscribe = protocols?.subscribe(() => this.#update());
  }

  #watchHealth(health: MemberHealth | undefined): void {
    if (health === this.#health) return;
    this.#unsubscribeHealth?.();
    this.#health = health;
    this.#unsubscribeHealth = health?.subscribe(() => this.#update());
  }

  #update(): void {
    if (this.#paused || this.#destroyed) return;
    const states = this.#childStates();
    this.#health?.setUnreachable(states.unreachable);
    this.#protocols?.setConnected(new Set(states.ready.keys()));
    this.#publish(states);
    // A leaf whose connection dropped goes IDLE and stays so: reconnect it.
    // After publishing, so that the updates this causes are the latest.
    this.exitIdle();
  }

  // Keeps the children of members whose epoch is unchanged, makes one for
  // each new member or epoch (returned, not yet connecting), destroys the rest.
  #replaceChildren(endpoints: Endpoint[], options: grpc.ChannelOptions, note: string): Child[] {
    const epochs = options[EPOCHS_ATTRIBUTE] as ReadonlyMap<string, number> | undefined;
    const childOptions = { ...options };
    delete childOptions[EPOCHS_ATTRIBUTE];
    const next = new Map<string, Child>();
    const started: Child[] = [];
    for (const endpoint of endpoints) {
      const addr = subchannelAddressToString(endpoint.addresses[0]);
      const epoch = epochs?.get(addr) ?? 0;
      const old = this.#children.get(addr);
      if (old?.epoch === epoch) {
        next.set(addr, old);
      } else if (!next.has(addr)) {
        const child = this.#child(addr, endpoint, epoch, childOptions, note);
        next.set(addr, child);
        started.push(child);
      }
    }
    for (const [addr, child] of this.#children) if (next.get(addr) !== child) child.leaf.destroy();
    this.#children = next;
    return started;
  }

  // The children's connection states now, with what is known of the READY
  // members' protocols and health.
  #childStates(): ChildStates {
    const states: ChildStates = {
      ready: new Map(),
      connecting: new Set(),
      refuse: { mccache: new Set(), goOriginal: new Set() },
      suspect: new Set(),
      unreachable: new Set(),
    };
    for (const [addr, { leaf }] of this.#children) {
      const state = leaf.getConnectivityState();
      if (state === State.READY) {
        states.ready.set(addr, leaf.getPicker());
        const protocol = this.#protocols?.of(addr);
        if (protocol === "geecachepb" || protocol === "none") states.refuse.mccache.add(addr);
        if (protocol === "none") states.refuse.goOriginal.add(addr);
        if (this.#health?.suspect(addr)) states.suspect.add(addr);
      } else if (state === State.CONNECTING || state === State.IDLE) states.connecting.add(addr);
      else if (state === State.TRANSIENT_FAILURE) states.unreachable.add(addr);
    }
    return states;
  }

  // Tells the channel what calls can do now: pick by the ring, wait, or fail.
  #publish({ ready, connecting, refuse, suspect }: ChildStates): void {
    if (this.#children.size === 0) {
      this.#fail(`${RING_POLICY}: no cache nodes known`);
    } else if (ready.size > 0) {
      const picker = new RingPicker(
        this.#ring!,
        this.#resolved!,
        ready,
        connecting,
        refuse,
        suspect,
      );
      this.#helper.updateState(State.READY, picker, null);
    } else if (connecting.size > 0) {
      this.#helper.updateState(State.CONNECTING, new QueuePicker(this), null);
    } else {
      this.#fail(`${RING_POLICY}: no cache node reachable; last error ${this.#lastError}`);
    }
  }

  #fail(details: string): void {
    const picker = new UnavailablePicker({ code: grpc.status.UNAVAILABLE, details });
    this.#helper.updateState(State.TRANSIENT_FAILURE, picker, details);
  }
}

let registered = false;

/**
 * Registers the `mccache_ring` policy with grpc-js (once per process; later
 * calls do nothing). A channel whose service config names an unregistered
 * policy silently falls back to pick_first, so register before creating it.
 *
 * @example
 * ```ts
 * import { registerRingBalancer } from "./balancer.ts";
 *
 * registerRingBalancer();
 * ```
 */
export function registerRingBalancer(): void {
  if (registered) return;
  registered = true;
  registerLoadBalancerType(RING_POLICY, RingLoadBalancer, RingConfig);
}
