/**
 * {@linkcode GrpcUpstream}: how a gateway reaches the cache nodes: one
 * grpc-js channel whose resolver knows the members and whose `mccache_ring`
 * policy sends each call to the owner of its key.
 *
 * @module
 */

import * as grpc from "@grpc/grpc-js";
import { HashRing, type HashRingOptions } from "../hash_ring.ts";
import { PeerError, UnsupportedError } from "../errors.ts";
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
import {
  ETCD_SCHEME,
  MEMBER_SOURCE_OPTION,
  type MemberSource,
  registerResolvers,
  RING_OPTION,
  STATIC_SCHEME,
} from "./resolver.ts";
import { brokenConnection, fromServiceError } from "./status.ts";
import { clientCredentials, type TlsOptions } from "./tls.ts";
import { checkTtl } from "../getter.ts";
import { MAX_VALUE_BYTES } from "../limits.ts";
import { ItemOp, type StatsResponse } from "./messages.ts";
import { CacheClient } from "./_proto.ts";
import { FailOver } from "./_failover.ts";
import type { Hint } from "./_hints.ts";
import { MemberStream, type PendingRequest, type StreamEvents } from "./_member_stream.ts";
import { GoOriginalGets } from "./_go_original_gets.ts";
import type {
  Upstream,
  UpstreamCallOptions,
  UpstreamValue,
  WriteResult,
} from "../gateway/upstream.ts";

/** Options for {@linkcode GrpcUpstream}. */
export interface GrpcUpstreamOptions {
  /** Static members, or a source such as an etcd prefix watch. */
  members: readonly string[] | MemberSource;
  /** Key placement; must match the nodes'. @default {{}} */
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
/** How long a stream may sit on another node than its key's owner before it is re-placed. */
const REPLACE_AFTER_MS = 100;

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
  #ringOptions: HashRingOptions;
  #ring: HashRing;
  #source: MemberSource;
  #unsubscribe: () => void;
  #streams = new Map<string, MemberStream>();
  // Streams to one member each, for telling every node to drop a key.
  #targeted = new Map<string, MemberStream>();
  // Every stream not yet closed, the retiring ones included: all of them
  // hold gets whose deadlines must be enforced.
  #live = new Set<MemberStream>();
  // The streams with gets queued: a list, not a Set (see src/table.ts).
  #dirty: MemberStream[] = [];
  #flushScheduled = false;
  // Whether gets were queued after the flush was scheduled, and whether it
  // already waited a turn (see #flush).
  #moreQueued = false;
  #waited = false;
  #nextId = 1;
  #sweeper: ReturnType<typeof setInterval>;
  #onDropFailed: (member: string, error: unknown) => void;

  /** Creates the channel; it connects on first use. */
  constructor(options: GrpcUpstreamOptions) {
    registerResolvers();
    this.#ringOptions = options.ring ?? {};
    this.#onDropFailed = options.onDropFailed ?? (() => {});
    const members = options.members;
    this.#source = "subscribe" in members ? members : { members, subscribe: () => () => {} };
    const target = "subscribe" in members
      ? `${ETCD_SCHEME}:///mccache`
      : `${STATIC_SCHEME}:///${members.join(",")}`;
    this.#protocols = new MemberProtocols({
      probe: (member) => probeMember(this.#client, () => memberMetadata(member)),
    });
    this.#failOver = new FailOver({
      ring: () => this.#ring,
      protocols: this.#protocols,
      sendTo: (member, request) => this.#sendTo(member, request),
      answers: async (member, timeoutMs) => {
        const route = () => memberMetadata(member);
        return await probeMember(this.#client, route, timeoutMs) !== undefined;
      },
      hedgeAfter: options.hedgeAfter,
    });
    const tls = clientCredentials(options.tls);
    this.#client = new CacheClient(target, tls.credentials, {
      ...NODE_CHANNEL_OPTIONS,
      ...keepaliveOptions(options.keepalive ?? DEFAULT_KEEPALIVE_MS),
      ...tls.options,
      [MEMBER_SOURCE_OPTION]: this.#source,
      [RING_OPTION]: this.#ringOptions,
      [PROTOCOLS_OPTION]: this.#protocols,
      [HEALTH_OPTION]: this.#failOver.health,
    });
    this.#goOriginalGets = new GoOriginalGets(this.#client, this.#protocols, {
      isMember: (addr) => this.#ring.has(addr),
      redirect: (request, error, member) => this.#redirect(request, error, member),
    });
    this.#ring = this.#buildRing();
    this.#unsubscribe = this.#source.subscribe(() => this.#membersChanged());
    this.#sweeper = setInterval(() => this.#sweep(), SWEEP_MS);
    // Connect now rather than on the first request: the members' protocols
    // are then known, and /healthz is right, before traffic arrives.
    this.#client.getChannel().getConnectivityState(true);
  }

  /** The members the channel routes over. */
  get members(): readonly string[] {
    return this.#source.members;
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

  /** The ring the gateway routes by now (an immutable snapshot). */
  get ring(): HashRing {
    return this.#ring;
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
  async set(
    group: string,
    key: string,
    value: Uint8Array,
    ttl: number | undefined,
    options: UpstreamCallOptions,
  ): Promise<WriteResult> {
    if (ttl !== undefined) ttl = Math.ceil(checkTtl(ttl, "set"));
    if (ttl !== undefined && ttl > Number.MAX_SAFE_INTEGER) {
      throw new RangeError(
        `Cannot set: ttl is over ${Number.MAX_SAFE_INTEGER} ms: received ${ttl}`,
      );
    }
    if (value.length > MAX_VALUE_BYTES) {
      throw new RangeError(
        `Cannot set: value is over ${MAX_VALUE_BYTES} bytes: received ${value.length}`,
      );
    }
    const write = { group, key, op: ItemOp.SET, value, ttl };
    return await this.#written(write, await this.#write(write, options), options);
  }

  /** Removes a key from its owner, then from every other node. */
  async remove(group: string, key: string, options: UpstreamCallOptions): Promise<WriteResult> {
    try {
      const write = { group, key, op: ItemOp.REMOVE };
      return await this.#written(write, await this.#write(write, options), options);
    } catch (error) {
      // The owner may not have been told: the key goes from everywhere else.
      // An owner that refused (the Go original) changed nothing: nor does this.
      if (!(error instanceof UnsupportedError)) {
        await this.#dropElsewhere({ group, key, op: ItemOp.REMOVE }, [], options);
      }
      throw error;
    }
  }

  // After a write at the owner, or at its next member in its place: the
  // other members drop their copies (the owner that missed it has a hint).
  async #written(
    write: Hint,
    done: UpstreamValue,
    options: UpstreamCallOptions,
  ): Promise<WriteResult> {
    const { node, failedOver } = done;
    if (failedOver !== undefined || done.ownerOnly) {
      await this.#dropElsewhere(write, this.#failOver.written(write, done), options);
    }
    return { node, failover: failedOver !== undefined };
  }

  /** Closes the streams and the channel. */
  close(): void {
    clearInterval(this.#sweeper);
    this.#unsubscribe();
    this.#failOver.close();
    for (const stream of [...this.#streams.values(), ...this.#targeted.values()]) stream.retire();
    this.#streams.clear();
    this.#targeted.clear();
    this.#client.close();
  }

  #buildRing(): HashRing {
    const ring = new HashRing(this.#ringOptions);
    ring.add(...this.#source.members);
    this.#protocols.sync(this.#source.members, this.#source.registrationOf);
    return ring;
  }

  #membersChanged(): void {
    const before = this.#ring.members;
    this.#ring = this.#buildRing();
    this.#failOver.membersChanged(before, this.#ring.members);
    for (const streams of [this.#streams, this.#targeted]) {
      for (const [owner, stream] of streams) {
        if (this.#ring.has(owner)) continue;
        streams.delete(owner);
        stream.retire();
      }
    }
  }

  #send(request: PendingRequest): void {
    const owner = this.#ring.get(request.key);
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
    } else if (this.#protocols.protocolFor(this.#ring, request.key, owner) === "geecachepb") {
      this.#goOriginalGets.send(request, this.#ring.hashKey(request.key));
      return;
    } else if (this.#failOver.routeGet(request, owner)) {
      return;
    }
    let stream = this.#streams.get(owner);
    if (stream === undefined || !stream.open) {
      stream = this.#open(owner, request.key, 0);
      this.#streams.set(owner, stream);
    }
    this.#queue(stream, request);
  }

  // Sends to exactly `member` (not its key's owner), on a stream of its own.
  #sendTo(member: string, request: PendingRequest): void {
    // Only drops go to one member: the Go original keeps no copy it could drop.
    if (!this.#protocols.speaksMccache(member)) {
      request.resolve({ value: EMPTY, ttl: undefined, node: member });
      return;
    }
    let stream = this.#targeted.get(member);
    if (stream === undefined || !stream.open) {
      stream = new MemberStream(this.#client, member, "member", this.#streamEvents);
      this.#live.add(stream);
      this.#targeted.set(member, stream);
    }
    this.#queue(stream, request);
  }

  #queue(stream: MemberStream, request: PendingRequest): void {
    stream.send(this.#nextId++ >>> 0, request);
    if (!stream.listed) {
      stream.listed = true;
      this.#dirty.push(stream);
    }
    if (this.#flushScheduled) {
      this.#moreQueued = true;
      return;
    }
    this.#flushScheduled = true;
    // setImmediate, not a microtask: Deno.serve runs microtasks after each
    // request, so only a macrotask gathers the requests of one turn.
    setImmediate(this.#flush);
  }

  #open(owner: string, key: string, attempt: number): MemberStream {
    const target = { hash: this.#ring.hashKey(key), attempt };
    const stream = new MemberStream(this.#client, owner, target, this.#streamEvents);
    this.#live.add(stream);
    return stream;
  }

  // A field, not a method: handed to setImmediate on every turn.
  #flush = (): void => {
    // Gets that kept coming while the flush waited mean a busy gateway, whose
    // next turn brings more: waiting for it once makes the messages larger
    // and fewer (a message costs the nodes and the gateway more CPU than a
    // get in it). A lone get goes out at once. Measured at 64 connections
    // on 1,000 keys, side by side: 6.2 -> 7.5 gets a message, nodes' CPU per
    // request -12%, throughput +3-9%; waiting longer did not add to that.
    if (this.#moreQueued && !this.#waited) {
      this.#waited = true;
      setImmediate(this.#flush);
      return;
    }
    this.#moreQueued = false;
    this.#waited = false;
    this.#flushScheduled = false;
    for (const stream of this.#dirty) {
      stream.listed = false;
      stream.flush();
    }
    this.#dirty.length = 0;
  };

  // A field, not a method: every stream is handed this one object.
  #streamEvents: StreamEvents = {
    closed: (stream, unanswered, error) => this.#streamClosed(stream, unanswered, error),
    // A node that names itself speaks mccache's protocol, whatever a probe said.
    named: (stream) => {
      if (this.#ring.has(stream.node)) this.#protocols.learn(stream.node, "mccache.v1");
    },
    answered: (stream, ms) => {
      const member = stream.member;
      if (member !== "") this.#failOver.health.answered(member, ms);
    },
  };

  #streamClosed(stream: MemberStream, unanswered: PendingRequest[], error: unknown): void {
    this.#live.delete(stream);
    if (this.#streams.get(stream.owner) === stream) this.#streams.delete(stream.owner);
    if (this.#targeted.get(stream.owner) === stream) this.#targeted.delete(stream.owner);
    const member = stream.member;
    if (refusedMethod(error as grpc.ServiceError) && this.#ring.has(member)) {
      // A member of the Go original (unless it refused that too): from now on
      // its keys go to it as its Get, and mccache's calls skip it.
      this.#protocols.learn(member, "geecachepb");
      for (const request of unanswered) this.#redirect(request, error, member);
      return;
    }
    const code = (error as { code?: number }).code;
    const retryable = code === undefined || brokenConnection(code);
    // A broken connection under a write: the member is suspect until it
    // answers again, so the writes it missed are replayed before its reads.
    if (
      retryable && member !== "" && unanswered.some((request) => request.op && !request.retried)
    ) {
      this.#failOver.health.suspectNow(member);
    }
    const retries: PendingRequest[] = [];
    for (const request of unanswered) {
      if (
        retryable && !request.retried && request.op &&
        this.#failOver.failOver(request, member || stream.owner)
      ) {
        continue;
      }
      if (retryable && !request.retried) retries.push(request);
      else {request.reject(
          error instanceof PeerError
            ? error
            : fromServiceError(error as grpc.ServiceError, stream.answerer),
        );}
    }
    if (retries.length === 0) return;
    // One stream for all the retries, placed on the member after the one that
    // failed, and ended as soon as they are answered.
    const retry = this.#open(stream.owner, retries[0].key, 1);
    for (const request of retries) {
      request.retried = true;
      retry.send(this.#nextId++ >>> 0, request);
    }
    retry.retire();
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
    for (const stream of this.#live) stream.expire(now);
    this.#failOver.hedgeStalled(this.#live, now);
    for (const [owner, stream] of this.#streams) {
      // A stream placed on another node (its owner was down when it opened)
      // is re-placed, so keys go back to their owner once it is back.
      if (stream.node !== "" && stream.node !== owner && now - stream.openedAt > REPLACE_AFTER_MS) {
        this.#streams.delete(owner);
        stream.retire();
      }
    }
  }

  // Sends a set or remove to the key's owner. The node decides by its own
  // ring (the gateway's may lag behind): as the owner it does the write
  // alone (ownerOnly) and the caller tells the other nodes over its streams;
  // any other node passes it on as a Set or Remove call would.
  #write(
    item: Pick<PendingRequest, "group" | "key" | "op" | "value" | "ttl">,
    options: UpstreamCallOptions,
  ): Promise<UpstreamValue> {
    return new Promise((resolve, reject) => {
      const request = { ...item, id: 0, deadline: options.deadline, retried: false, redirects: 0 };
      this.#send({ ...request, resolve, reject });
    });
  }

  // Has every member but `except` drop its copy of a key. Best effort, as
  // between nodes: a member that cannot be told is not the key's owner.
  // A member that could not be told keeps the write as a hint, and is
  // suspect until it takes it.
  async #dropElsewhere(
    write: Hint,
    except: readonly string[],
    options: UpstreamCallOptions,
  ): Promise<void> {
    const { group, key } = write;
    const drops = this.#source.members.filter((member) => !except.includes(member)).map((member) =>
      new Promise<UpstreamValue>((resolve, reject) => {
        // Never retried elsewhere: the drop is for this member only.
        const request = { id: 0, group, key, op: ItemOp.REMOVE, local: true, retried: true };
        const drop = { ...request, member, redirects: 0, deadline: options.deadline };
        this.#sendTo(member, { ...drop, resolve, reject });
      }).catch((error) => {
        this.#failOver.dropFailed(member, write);
        this.#onDropFailed(member, error);
      })
    );
    await Promise.all(drops);
  }
}

function memberMetadata(member: string): grpc.Metadata {
  const metadata = new grpc.Metadata();
  metadata.set(MEMBER_METADATA_KEY, member);
  return metadata;
}
