// What GrpcUpstream does when a member does not answer: hedged gets, writes
// failed over to the key's next member, and the hints that member missed
// (see docs/RELIABILITY.md for the rule they keep).
import type { RingSnapshot } from "./ring_snapshot.ts";
import { MemberHealth } from "./health.ts";
import type { MemberProtocols } from "./protocols.ts";
import { hedgedCopy } from "./_hedge.ts";
import { type Hint, Hints } from "./_hints.ts";
import type { MemberStream, PendingRequest } from "./_member_stream.ts";
import type { UpstreamValue } from "../gateway/upstream.ts";

/** What {@linkcode FailOver} needs of its upstream. */
export interface FailOverOptions {
  /** The current ring snapshot: the one the balancer places calls by. */
  ring(): RingSnapshot;
  protocols: MemberProtocols;
  /** Sends a request to exactly `member`. */
  sendTo(member: string, request: PendingRequest): void;
  /** Whether `member` answers a call within `timeoutMs` (any answer, a refusal included). */
  answers(member: string, timeoutMs: number): Promise<boolean>;
  /** The least wait before a get is hedged, in milliseconds. @default {50} */
  hedgeAfter?: number;
}

/** How long a silent member has to answer a ping before it is suspect (a busy machine's pauses fit). */
const PING_TIMEOUT_MS = 500;
/** How long a suspect member has to answer a check before it stays suspect. */
const CHECK_TIMEOUT_MS = 1000;
/** Replays in one check: each is shorter than the one before, as writes fail over only meanwhile. */
const REPLAY_ROUNDS = 5;
/** How long a member that left is told of writes, should it come back. */
const DEPARTED_MS = 5 * 60_000;

export class FailOver {
  readonly health: MemberHealth;
  #options: FailOverOptions;
  #hints = new Hints();
  #pinging = new Set<string>();
  // Members that left the ring lately (when): they may come back with old copies.
  #departed = new Map<string, number>();

  constructor(options: FailOverOptions) {
    this.#options = options;
    this.health = new MemberHealth({
      minHedgeMs: options.hedgeAfter,
      check: (member) => this.#check(member),
      ping: (member) => options.answers(member, PING_TIMEOUT_MS),
    });
  }

  /**
   * The first member after `except` from the key's owner on that is
   * connected, speaks mccache's protocol and is not suspect: the fail-over
   * and hedge target, by the same walk as the balancer's picks.
   */
  nextMember(key: string, except: string): string | undefined {
    const { health } = this;
    const { protocols } = this.#options;
    const ring = this.#options.ring();
    const accept = (m: string) =>
      m !== except && protocols.connected(m) && protocols.speaksMccache(m) && !health.suspect(m);
    return ring.pick(ring.hashKey(key), 0, { accept });
  }

  /** Sends a get of a suspect owner's key to the next member, loaded there; false if none can. */
  routeGet(request: PendingRequest, owner: string): boolean {
    if (!this.health.suspect(owner)) return false;
    const next = this.nextMember(request.key, owner);
    if (next === undefined) return false;
    this.#options.sendTo(next, { ...request, local: true, member: next });
    return true;
  }

  /** Fails a write over when its owner's connection failed or it is suspect; false if not. */
  routeWrite(request: PendingRequest, owner: string): boolean {
    const down = this.health.suspect(owner) || this.health.unreachable(owner);
    return down && this.failOver(request, owner);
  }

  /**
   * Sends a write to the key's next member, to store it in `owner`'s place,
   * keeps it as a hint for `owner`, and makes `owner` suspect until it took
   * its hints. False when no other member can take it.
   */
  failOver(request: PendingRequest, owner: string): boolean {
    const next = this.nextMember(request.key, owner);
    if (next === undefined) return false;
    this.health.suspectNow(owner);
    const { resolve } = request;
    this.#options.sendTo(next, {
      ...request,
      local: true,
      member: next,
      retried: true,
      resolve: (value) => {
        // Suspect again if it was cleared while this write was on its way:
        // no get that starts after the answer reads the owner's older copy.
        this.#hints.add(owner, request);
        this.health.suspectNow(owner);
        resolve({ ...value, failedOver: owner });
      },
    });
    return true;
  }

  /**
   * After a write done at `done.node`: members that missed older writes of
   * the key get this one instead, and members that left lately may come back
   * holding an older copy. Returns the members that need no drop.
   */
  written(write: Hint, done: UpstreamValue): string[] {
    this.#hints.supersede(write);
    for (const member of this.#departed.keys()) this.#hints.add(member, write);
    return done.failedOver === undefined ? [done.node] : [done.node, done.failedOver];
  }

  /** A member that could not be told to drop a key keeps the write, and is suspect until it takes it. */
  dropFailed(member: string, write: Hint): void {
    this.#hints.add(member, write);
    this.health.suspectNow(member);
  }

  /**
   * Gets waiting on a member that has answered nothing for its budget go to
   * the next member too, once the member does not answer a ping either (a
   * live member slow with a load is waited for: one load per key).
   */
  hedgeStalled(streams: Iterable<MemberStream>, now: number): void {
    const { health } = this;
    for (const stream of streams) {
      const member = stream.member;
      if (member === "" || this.#pinging.has(member)) continue;
      const budget = health.budget(member);
      if (health.silentFor(member, now) < budget) continue;
      if (stream.stalled(now - budget).length === 0) continue;
      this.#pinging.add(member);
      health.ping(member).then((alive) => {
        this.#pinging.delete(member);
        if (!alive) this.#hedge(streams, member, Date.now() - budget);
      });
    }
  }

  /** Takes a new membership: forgets members that left, and keeps them as departed. */
  membersChanged(before: readonly string[], after: readonly string[]): void {
    const now = Date.now();
    for (const member of before) if (!after.includes(member)) this.#departed.set(member, now);
    for (const [member, at] of this.#departed) {
      if (after.includes(member) || now - at > DEPARTED_MS) this.#departed.delete(member);
    }
    for (const member of this.health.members()) {
      if (!after.includes(member)) this.health.forget(member);
    }
    // A member that comes back gets the writes it missed before its reads.
    for (const member of after) if (this.#hints.has(member)) this.health.suspectNow(member);
  }

  close(): void {
    this.health.close();
  }

  #hedge(streams: Iterable<MemberStream>, member: string, before: number): void {
    for (const stream of streams) {
      if (stream.member !== member) continue;
      for (const request of stream.stalled(before)) {
        const next = this.nextMember(request.key, member);
        if (next !== undefined) this.#options.sendTo(next, hedgedCopy(request, next));
      }
    }
  }

  // Whether a suspect member answers again, and took the writes it missed:
  // the last replay is checked in the same turn as the member is cleared,
  // and writes failed over meanwhile are replayed in further rounds.
  async #check(member: string): Promise<boolean> {
    if (!await this.#options.answers(member, CHECK_TIMEOUT_MS)) return false;
    for (let round = 0; round < REPLAY_ROUNDS && this.#hints.has(member); round++) {
      if (!await this.#replay(member)) return false;
    }
    return !this.#hints.has(member);
  }

  // Replays the writes `member` missed, the newest per key; true once all are done there.
  async #replay(member: string): Promise<boolean> {
    const hints = this.#hints.take(member);
    const deadline = Date.now() + CHECK_TIMEOUT_MS;
    const replay = (hint: Hint) =>
      new Promise<UpstreamValue>((resolve, reject) => {
        const write = { ...hint, id: 0, local: true, member, retried: true, redirects: 0 };
        this.#options.sendTo(member, { ...write, deadline, resolve, reject });
      });
    const results = await Promise.allSettled(hints.map(replay));
    const failed = hints.filter((_, i) => results[i].status === "rejected");
    this.#hints.restore(member, failed);
    return failed.length === 0;
  }
}
