/**
 * {@linkcode GrpcUpstream}: how a gateway reaches the cache nodes: one
 * grpc-js channel whose resolver knows the members and whose `mccache_ring`
 * policy sends each call to the owner of its key.
 *
 * @module
 */

import * as grpc from "@grpc/grpc-js";
import type { HashRing, HashRingOptions } from "../hash_ring.ts";
import { PeerError } from "../errors.ts";
import { MEMBER_METADATA_KEY } from "./balancer.ts";
import { HEALTH_OPTION, type MemberHealth } from "./health.ts";
import { DEFAULT_KEEPALIVE_MS, keepaliveOptions, NODE_CHANNEL_OPTIONS } from "./peer.ts";
import {
  MemberProtocols,
  probeMember,
  PROTOCOLS_OPTION,
  refusedMethod,
  unsupportedWrite,
} from "./protocols.ts";
import { ETCD_SCHEME, type MemberSource, registerResolvers, STATIC_SCHEME } from "./resolver.ts";
import { CURRENT_RING_OPTION, CurrentRing, type RingSnapshot } from "./ring_snapshot.ts";
import { brokenConnection, fromServiceError } from "./status.ts";
import { clientCredentials, type TlsOptions } from "./tls.ts";
import { ItemOp, type StatsResponse } from "./messages.ts";
import { CacheClient } from "./_proto.ts";
import { FailOver } from "./_failover.ts";
import type { MemberStream, PendingRequest, StreamEvents } from "./_member_stream.ts";
import { StreamPool } from "./_stream_pool.ts";
import { Writes } from "./_writes.ts";
import { GoOriginalGets } from "./_go_original_gets.ts";
import type {
  Upstream,
  UpstreamCallOptions,
  UpstreamValue,
  WriteResult,
} from "../gateway/upstream.ts";

/** Options for {@linkcode GrpcUpstream}. */
export interface GrpcUpstreamOptions {
  /**
   * Static members, or a source such as an etcd prefix watch. A
   * {@linkcode CurrentRing} is routed by as it is (shared, not closed).
   */
  members: readonly string[] | MemberSource;
  /** Key placement; must match the nodes' (ignored for a `CurrentRing`). @default {{}} */
  ring?: HashRingOptions;
  /** Mutual TLS with the nodes; plaintext without. @default {undefined} */
  tls?: TlsOptions;
  /** How often connections to nodes are pinged, in milliseconds (see `keepaliveOptions`). @default {2000} */
  keepalive?: number;
  /**
   * The least time a get waits for a member that answers nothing before it
   * is sent to the next member too (the wait is 4 × the member's recent
   * p99 when that is longer), in milliseconds.
   * @default {50}
   */
  hedgeAfter?: number;
  /**
   * Called for each member that could not be told to drop its copy of a
   * key after a write (best effort, as between nodes).
   * @default {() => {}}
   */
  onDropFailed?: (member: string, error: unknown) => void;
}

// How often a request is sent again because a member refused its protocol:
// each time one more member's protocol is known, so a few are enough.
const MAX_REDIRECTS = 3;
const EMPTY = new Uint8Array(0);

/** How often deadlines are checked and streams re-placed, in milliseconds. */
const SWEEP_MS = 25;

/**
 * The cluster, reached through one grpc-js channel routed by key. Gets, sets
 * and removes travel in batches on one long-lived stream per owner; after a
 * write, the gateway itself tells the other members to drop their copies.
 * A get or write that fails because its node went away is retried once on
 * the next member.
 *
 * Members of the Go original (see {@linkcode MemberProtocols}) get their keys'
 * gets as its unary `Get`; writes of their keys fail with
 * `UnsupportedError`. A member's protocol is asked once when it connects,
 * and learned from its answer if a request reaches it first.
 *
 * @example
 * ```ts ignore
 * import { GrpcUpstream } from "@mccache/core/gateway";
 *
 * const upstream = new GrpcUpstream({ members: ["127.0.0.1:8001", "127.0.0.1:8002"] });
 * const { value, node } = await upstream.get("scores", "Rex", { deadline: Date.now() + 2000 });
 * ```
 */
export class GrpcUpstream implements Upstream {
  #client: grpc.Client;
  #protocols: MemberProtocols;
  #failOver: FailOver;
  #goOriginalGets: GoOriginalGets;
  // The one ring of this upstream: its channel's resolver and balancer read
  // the same (CURRENT_RING_OPTION), so they never disagree about an owner.
  #current: CurrentRing;
  #ownsRing: boolean;
  #unsubscribe: () => void;
  #streams: StreamPool;
  #sweeper: ReturnType<typeof setInterval>;
  #writes: Writes;

  /** Creates the channel; it connects on first use. */
  constructor(options: GrpcUpstreamOptions) {
    registerResolvers();
    const members = options.members;
    this.#ownsRing = !(members instanceof CurrentRing);
    this.#current = members instanceof CurrentRing
      ? members
      : new CurrentRing(members, options.ring ?? {});
    this.#protocols = new MemberProtocols({
      probe: (member) => probeMember(this.#client, () => memberMetadata(member)),
    });
    this.#failOver = this.#newFailOver(options.hedgeAfter);
    this.#client = this.#newClient(channelTarget(members), options);
    this.#streams = new StreamPool(
      this.#client,
      this.#streamEvents,
      (key) => this.#current.snapshot.hashKey(key),
    );
    this.#writes = new Writes({
      send: (request) => this.#send(request),
      sendTo: (member, request) => this.#sendTo(member, request),
      members: () => this.#current.members,
      failOver: this.#failOver,
      dropFailed: options.onDropFailed ?? (() => {}),
    });
    this.#goOriginalGets = new GoOriginalGets(this.#client, this.#protocols, {
      isMember: (addr) => this.#current.snapshot.has(addr),
      redirect: (request, error, member) => this.#redirect(request, error, member),
    });
    this.#protocols.sync(this.#current.members, (m) => this.#current.registrationOf(m));
    this.#unsubscribe = this.#followMembers();
    this.#sweeper = setInterval(() => this.#sweep(), SWEEP_MS);
    // Connect now rather than on the first request: the members' protocols
    // are then known, and /healthz is right, before traffic arrives.
    this.#client.getChannel().getConnectivityState(true);
  }

  // Protocols, health and streams follow each snapshot, told what it changed.
  #followMembers(): () => void {
    let before = this.#current.snapshot;
    return this.#current.subscribe(() => {
      const after = this.#current.snapshot;
      this.#membersChanged(before, after);
      before = after;
    });
  }

  #newFailOver(hedgeAfter: number | undefined): FailOver {
    return new FailOver({
      ring: () => this.#current.snapshot,
      protocols: this.#protocols,
      sendTo: (member, request) => this.#sendTo(member, request),
      answers: async (member, timeoutMs) => {
        const route = () => memberMetadata(member);
        return await probeMember(this.#client, route, timeoutMs) !== undefined;
      },
      hedgeAfter,
    });
  }

  // One channel for every member: the resolver names them, the ring policy
  // picks one per call by the hash in its metadata.
  #newClient(target: string, options: GrpcUpstreamOptions): grpc.Client {
    const tls = clientCredentials(options.tls);
    return new CacheClient(target, tls.credentials, {
      ...NODE_CHANNEL_OPTIONS,
      ...keepaliveOptions(options.keepalive ?? DEFAULT_KEEPALIVE_MS),
      ...tls.options,
      [CURRENT_RING_OPTION]: this.#current,
      [PROTOCOLS_OPTION]: this.#protocols,
      [HEALTH_OPTION]: this.#failOver.health,
    });
  }

  /** The members the channel routes over. */
  get members(): readonly string[] {
    return this.#current.members;
  }

  /** Whether some member is connected and known to serve gets, in either protocol. */
  get serving(): boolean {
    return this.#protocols.serving;
  }

  /** How the members have been answering lately. */
  get health(): MemberHealth {
    return this.#failOver.health;
  }

  /** What is known of the members' protocols. */
  get protocols(): MemberProtocols {
    return this.#protocols;
  }

  /**
   * Asks `member` for its counters (the `Stats` call); rejects when it does
   * not answer within `timeoutMs` or does not speak mccache's protocol.
   */
  stats(member: string, timeoutMs = 1000): Promise<StatsResponse> {
    const method = CacheClient.service.Stats;
    return new Promise((resolve, reject) => {
      this.#client.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        {},
        memberMetadata(member),
        { deadline: Date.now() + timeoutMs },
        (error, response) => {
          if (error) reject(fromServiceError(error, member));
          else resolve(response as StatsResponse);
        },
      );
    });
  }

  /** The ring the gateway routes by now (that of an immutable snapshot). */
  get ring(): HashRing {
    return this.#current.snapshot.ring;
  }

  /** The ring snapshots this upstream and its channel's balancer route by. */
  get currentRing(): CurrentRing {
    return this.#current;
  }

  /** Gets a value from the key's owner (batched with other gets for it). */
  get(group: string, key: string, options: UpstreamCallOptions): Promise<UpstreamValue> {
    return new Promise((resolve, reject) => {
      const { deadline } = options;
      this.#send({ id: 0, group, key, deadline, retried: false, redirects: 0, resolve, reject });
    });
  }

  /**
   * Stores a value at the key's owner, then has every other node drop its
   * copy; both travel on the streams, batched with gets.
   */
  set(
    group: string,
    key: string,
    value: Uint8Array,
    ttl: number | undefined,
    options: UpstreamCallOptions,
  ): Promise<WriteResult> {
    return this.#writes.set(group, key, value, ttl, options);
  }

  /** Removes a key from its owner, then from every other node. */
  remove(group: string, key: string, options: UpstreamCallOptions): Promise<WriteResult> {
    return this.#writes.remove(group, key, options);
  }

  /** Closes the streams and the channel. */
  close(): void {
    clearInterval(this.#sweeper);
    this.#unsubscribe();
    if (this.#ownsRing) this.#current.close();
    this.#failOver.close();
    this.#streams.close();
    this.#client.close();
  }

  #membersChanged(before: RingSnapshot, after: RingSnapshot): void {
    this.#protocols.sync(after.members, (m) => this.#current.registrationOf(m));
    this.#failOver.membersChanged(before.members, after.members);
    this.#streams.retireGone((addr) => after.has(addr));
  }

  #send(request: PendingRequest): void {
    const ring = this.#current.snapshot;
    const owner = ring.owner(request.key);
    if (owner === undefined) {
      request.reject(new PeerError("No cache node is known"));
      return;
    }
    if (request.op) {
      if (this.#protocols.of(owner) === "geecachepb") {
        request.reject(unsupportedWrite(owner, request.op === ItemOp.SET ? "set" : "remove"));
        return;
      }
      if (this.#failOver.routeWrite(request, owner)) return;
    } else if (this.#protocols.protocolFor(ring, request.key, owner) === "geecachepb") {
      this.#goOriginalGets.send(request, ring.hashKey(request.key));
      return;
    } else if (this.#failOver.routeGet(request, owner)) {
      return;
    }
    this.#streams.sendRouted(owner, request);
  }

  // Sends to exactly `member` (not its key's owner), on a stream of its own.
  #sendTo(member: string, request: PendingRequest): void {
    // Only drops go to one member: the Go original keeps no copy it could drop.
    if (!this.#protocols.speaksMccache(member)) {
      request.resolve({ value: EMPTY, ttl: undefined, node: member });
      return;
    }
    this.#streams.sendTargeted(member, request);
  }

  // A field, not a method: every stream is handed this one object.
  #streamEvents: StreamEvents = {
    closed: (stream, unanswered, error) => this.#streamClosed(stream, unanswered, error),
    // A node that names itself speaks mccache's protocol, whatever a probe said.
    named: (stream) => {
      if (this.#current.snapshot.has(stream.node)) {
        this.#protocols.learn(stream.node, "mccache.v1");
      }
    },
    answered: (stream, ms) => {
      const member = stream.member;
      if (member !== "") this.#failOver.health.answered(member, ms);
    },
  };

  #streamClosed(stream: MemberStream, unanswered: PendingRequest[], error: unknown): void {
    this.#streams.closed(stream);
    const member = stream.member;
    if (refusedMethod(error as grpc.ServiceError) && this.#current.snapshot.has(member)) {
      // A member of the Go original (unless it refused that too): from now on
      // its keys go to it as its Get, and mccache's calls skip it.
      this.#protocols.learn(member, "geecachepb");
      for (const request of unanswered) this.#redirect(request, error, member);
      return;
    }
    const code = (error as { code?: number }).code;
    if (code === undefined || brokenConnection(code)) this.#retry(stream, unanswered, error);
    else for (const request of unanswered) request.reject(streamError(stream, error));
  }

  // The requests of a stream whose connection broke: each is sent once more,
  // a write to the key's next member (if its owner is down), the rest on one
  // stream placed after the member that failed.
  #retry(stream: MemberStream, unanswered: PendingRequest[], error: unknown): void {
    const member = stream.member;
    // A broken connection under a write: the member is suspect until it
    // answers again, so the writes it missed are replayed before its reads.
    if (member !== "" && unanswered.some((request) => request.op && !request.retried)) {
      this.#failOver.health.suspectNow(member);
    }
    const retries: PendingRequest[] = [];
    for (const request of unanswered) {
      if (request.retried) request.reject(streamError(stream, error));
      else if (!request.op || !this.#failOver.failOver(request, member || stream.owner)) {
        retries.push(request);
      }
    }
    if (retries.length === 0) return;
    for (const request of retries) request.retried = true;
    this.#streams.sendRetries(stream.owner, retries);
  }

  // Sends a request again once a member's protocol was learned from it.
  #redirect(request: PendingRequest, error: unknown, member: string): void {
    // Bounded in case the member that refused is not the one learned about.
    if (request.redirects++ >= MAX_REDIRECTS) {
      request.reject(fromServiceError(error as grpc.ServiceError, member));
    } else if (request.member !== undefined) {
      this.#sendTo(request.member, request);
    } else {
      this.#send(request);
    }
  }

  #sweep(): void {
    const now = Date.now();
    this.#streams.expire(now);
    this.#failOver.hedgeStalled(this.#streams.live, now);
    this.#streams.replaceMisplaced(now);
  }
}

// What a request that a stream left unanswered fails with.
function streamError(stream: MemberStream, error: unknown): Error {
  if (error instanceof PeerError) return error;
  return fromServiceError(error as grpc.ServiceError, stream.answerer);
}

// Names the resolver only: either lists the ring's members (CURRENT_RING_OPTION).
function channelTarget(members: readonly string[] | MemberSource): string {
  return "subscribe" in members
    ? `${ETCD_SCHEME}:///mccache`
    : `${STATIC_SCHEME}:///${members.join(",")}`;
}

function memberMetadata(member: string): grpc.Metadata {
  const metadata = new grpc.Metadata();
  metadata.set(MEMBER_METADATA_KEY, member);
  return metadata;
}
