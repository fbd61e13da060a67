/**
 * {@linkcode GrpcPeerPicker}: routes each key to its owner among the
 * cluster's nodes, over gRPC.
 *
 * @module
 */

import type { HashRingOptions } from "../hash_ring.ts";
import type { PeerGetter, PeerPicker } from "../peers.ts";
import { MemberHealth } from "./health.ts";
import { GrpcPeer, type GrpcPeerOptions } from "./peer.ts";
import { UnsupportedError } from "../errors.ts";
import { MemberProtocols } from "./protocols.ts";
import { RingSnapshot } from "./ring_snapshot.ts";

/** Options for {@linkcode GrpcPeerPicker}. */
export interface GrpcPeerPickerOptions extends GrpcPeerOptions {
  /**
   * The least time a get waits for a peer that answers nothing before the
   * group loads the key itself, in milliseconds (4 × the peer's recent p99
   * when that is longer). Ignored when `health` is given.
   * @default {50}
   */
  hedgeAfter?: number;
  /** How keys are placed; every node of a cluster must use the same. @default {{}} */
  ring?: HashRingOptions;
}

// One membership, never changed once built: discovery swaps in a new one.
interface Snapshot {
  ring: RingSnapshot;
  peers: Map<string, GrpcPeer>;
  others: readonly GrpcPeer[];
}

/**
 * A {@linkcode PeerPicker} over a set of node addresses, one of them this
 * node (`self`). Each {@linkcode GrpcPeerPicker.setMembers} builds a new
 * ring and swaps it in, so a lookup never sees half an update.
 *
 * @example A node that knows its two peers
 * ```ts ignore
 * import { GroupRegistry } from "@mccache/core";
 * import { GrpcPeerPicker } from "@mccache/core/grpc";
 *
 * const picker = new GrpcPeerPicker("127.0.0.1:8001");
 * picker.setMembers(["127.0.0.1:8001", "127.0.0.1:8002", "127.0.0.1:8003"]);
 * new GroupRegistry().registerPeers(picker);
 * ```
 */
export class GrpcPeerPicker implements PeerPicker {
  #self: string;
  #options: GrpcPeerPickerOptions;
  #snapshot: Snapshot;
  #protocols: MemberProtocols;
  #health: MemberHealth;

  /** Creates a picker for the node at `self`, alone until members are set. */
  constructor(self: string, options: GrpcPeerPickerOptions = {}) {
    this.#self = self;
    this.#protocols = options.protocols ?? new MemberProtocols();
    this.#health = options.health ?? new MemberHealth({
      minHedgeMs: options.hedgeAfter,
      check: (member) => this.#answers(member),
      ping: (member) => this.#answers(member, PING_TIMEOUT_MS),
    });
    this.#options = { ...options, protocols: this.#protocols, health: this.#health };
    this.#snapshot = { ring: new RingSnapshot([], options.ring), peers: new Map(), others: [] };
  }

  /** How this node's peers have been answering. */
  get health(): MemberHealth {
    return this.#health;
  }

  /** What this node learned of its peers' protocols. */
  get protocols(): MemberProtocols {
    return this.#protocols;
  }

  /** The members of the current ring, sorted. */
  get members(): readonly string[] {
    return [...this.#snapshot.ring.members].sort();
  }

  /**
   * Replaces the membership. Connections to nodes that stay are kept; nodes
   * that left are disconnected. `registrationOf` names each member's
   * registration: what was learned of a member's protocol is forgotten when
   * it registers again.
   *
   * @example
   * ```ts ignore
   * picker.setMembers(["127.0.0.1:8001", "127.0.0.1:8002"]);
   * ```
   */
  setMembers(
    members: Iterable<string>,
    registrationOf?: (member: string) => string | undefined,
  ): void {
    const old = this.#snapshot;
    const ring = new RingSnapshot(members, this.#options.ring);
    const peers = new Map<string, GrpcPeer>();
    for (const member of ring.members) {
      if (member === this.#self) continue;
      peers.set(member, old.peers.get(member) ?? new GrpcPeer(member, this.#options));
    }
    this.#snapshot = { ring, peers, others: [...peers.values()] };
    this.#protocols.sync([...peers.keys()], registrationOf);
    for (const [addr, peer] of old.peers) {
      if (peers.has(addr)) continue;
      peer.close();
      this.#health.forget(addr);
    }
  }

  /**
   * Returns the owner of `key`, or `undefined` when it is this node, the
   * ring is empty, or the owner is suspect (it has not been answering).
   */
  pickPeer(key: string): PeerGetter | undefined {
    const { ring, peers } = this.#snapshot;
    const owner = ring.owner(key);
    if (owner === undefined || this.#health.suspect(owner)) return undefined;
    return peers.get(owner);
  }

  /**
   * Returns every node of the ring but this one, to tell of writes: but
   * those of the Go original, which cannot drop keys.
   */
  peers(): readonly PeerGetter[] {
    const protocols = this.#protocols;
    return this.#snapshot.others.filter((peer) => protocols.speaksMccache(peer.addr));
  }

  /** Disconnects from every peer. */
  close(): void {
    this.#health.close();
    for (const peer of this.#snapshot.peers.values()) peer.close();
    this.#snapshot = {
      ring: new RingSnapshot([], this.#options.ring),
      peers: new Map(),
      others: [],
    };
  }

  // Whether a suspect peer answers again: any answer, a refusal included.
  async #answers(member: string, timeout = CHECK_TIMEOUT_MS): Promise<boolean> {
    const peer = this.#snapshot.peers.get(member);
    if (peer === undefined) return false;
    try {
      await peer.stats({ signal: AbortSignal.timeout(timeout) });
      return true;
    } catch (error) {
      return error instanceof UnsupportedError;
    }
  }
}

/** How long a suspect peer has to answer a check before it stays suspect. */
const CHECK_TIMEOUT_MS = 1000;
/** How long a silent peer has to answer a ping before it is suspect (a busy machine's pauses fit). */
const PING_TIMEOUT_MS = 500;
