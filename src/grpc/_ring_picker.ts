// The picker of the `mccache_ring` policy (balancer.ts), apart from the
// policy because it is what every call meets: an immutable snapshot of the
// connections that reads only the call's metadata and the current ring.
import * as grpc from "@grpc/grpc-js";
import { PROTOCOL_METADATA_KEY } from "./protocols.ts";
import type { CurrentRing, PickRule, RingSnapshot } from "./ring_snapshot.ts";

const { PickResultType } = grpc.experimental;

type Picker = grpc.experimental.Picker;
type PickArgs = grpc.experimental.PickArgs;
type PickResult = grpc.experimental.PickResult;

/** The policy's name in a service config: `{ loadBalancingConfig: [{ mccache_ring: {} }] }`. */
export const RING_POLICY = "mccache_ring";
/** Call metadata: the key's ring position, `HashRing.hashKey(key)` as a decimal string. */
export const HASH_METADATA_KEY = "mccache-key-hash";
/** Call metadata: 1 on a retry, to skip the member that just failed. @default {absent = 0} */
export const ATTEMPT_METADATA_KEY = "mccache-attempt";
/**
 * Call metadata: a member's address; the call goes to it (once connected),
 * and fails with UNAVAILABLE when it cannot connect (e.g. telling every node
 * to drop a key).
 */
export const MEMBER_METADATA_KEY = "mccache-member";

function readHash(metadata: grpc.Metadata): number | undefined {
  const value = metadata.get(HASH_METADATA_KEY)[0];
  if (typeof value !== "string" || !/^\d{1,10}$/.test(value)) return undefined;
  const hash = Number(value);
  return hash <= 0xffffffff ? hash : undefined;
}

function unavailable(details: string): PickResult {
  return {
    pickResultType: PickResultType.TRANSIENT_FAILURE,
    subchannel: null,
    status: { code: grpc.status.UNAVAILABLE, details, metadata: new grpc.Metadata() },
    onCallStarted: null,
    onCallEnded: null,
  };
}

function drop(details: string): PickResult {
  // DROP fails the call even with waitForReady: a caller without a hash is a bug.
  return {
    pickResultType: PickResultType.DROP,
    subchannel: null,
    status: { code: grpc.status.INTERNAL, details, metadata: new grpc.Metadata() },
    onCallStarted: null,
    onCallEnded: null,
  };
}

const QUEUE: PickResult = {
  pickResultType: PickResultType.QUEUE,
  subchannel: null,
  status: null,
  onCallStarted: null,
  onCallEnded: null,
};

// The connection states are an immutable snapshot: the pickers of the
// members that are READY, the members still connecting, the READY members
// that refused mccache's protocol and the Go original's, and those that are
// suspect. The ring is read at each pick: the process's current one.
export class RingPicker implements Picker {
  readonly #rules: { mccache: PickRule; goOriginal: PickRule };

  constructor(
    readonly ring: CurrentRing,
    // The snapshot whose members the balancer last heard of.
    readonly resolved: RingSnapshot,
    readonly ready: ReadonlyMap<string, Picker>,
    readonly connecting: ReadonlySet<string>,
    refuse: { mccache: ReadonlySet<string>; goOriginal: ReadonlySet<string> },
    suspect: ReadonlySet<string>,
  ) {
    // Built once per picker, not per call. Suspect members are skipped
    // while another can take the call.
    const avoid = suspect.size === 0 ? undefined : (member: string) => suspect.has(member);
    const rule = (refused: ReadonlySet<string>): PickRule => ({
      accept: refused.size === 0
        ? (member) => ready.has(member)
        : (member) => ready.has(member) && !refused.has(member),
      avoid,
    });
    this.#rules = { mccache: rule(refuse.mccache), goOriginal: rule(refuse.goOriginal) };
  }

  pick(args: PickArgs): PickResult {
    const member = args.metadata.get(MEMBER_METADATA_KEY)[0];
    if (typeof member === "string") {
      const picker = this.ready.get(member);
      if (picker) return picker.pick(args);
      // A member that is connecting gets the call once it is up; one that
      // failed to connect fails it at once.
      return this.connecting.has(member) ? QUEUE : unavailable(`${member} is not connected`);
    }
    const hash = readHash(args.metadata);
    if (hash === undefined) return drop(`${RING_POLICY}: missing ${HASH_METADATA_KEY} metadata`);
    const attempt = Number(args.metadata.get(ATTEMPT_METADATA_KEY)[0] ?? 0) || 0;
    const goOriginal = args.metadata.get(PROTOCOL_METADATA_KEY)[0] === "geecachepb";
    const snapshot = this.ring.snapshot;
    const target = snapshot.pick(
      hash,
      attempt,
      goOriginal ? this.#rules.goOriginal : this.#rules.mccache,
    );
    if (target !== undefined) return this.ready.get(target)!.pick(args);
    // Every READY member refuses this protocol: one still connecting may
    // not, nor may one the resolver has not told of yet.
    if (this.connecting.size > 0 || snapshot !== this.resolved) return QUEUE;
    return unavailable(`No connected member serves ${goOriginal ? "geecachepb" : "mccache.v1"}`);
  }
}
