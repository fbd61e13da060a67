/**
 * {@linkcode MemberProtocols}: which protocol each member of a cluster
 * speaks, learned from how it answers. mccache nodes speak
 * `mccache.v1.Cache` (and the Go original's `Get` too); nodes of the Go
 * original speak only `geecachepb.McCache/Get`. It is the one place where a
 * process decides how to talk to a member: the `mccache_ring` balancer, the
 * gateway's upstream and a node's peers all read it.
 *
 * @module
 */

import * as grpc from "@grpc/grpc-js";
import { UnsupportedError } from "../errors.ts";
import type { RingSnapshot } from "./ring_snapshot.ts";
import { ERROR_METADATA_KEY, fromServiceError } from "./status.ts";
import type { GoOriginalRequest, GoOriginalResponse } from "./messages.ts";
import { CacheClient, GeeCacheClient } from "./_proto.ts";

/**
 * What a member answers: mccache's own service (`mccache.v1`), only the Go
 * original's `Get` (`geecachepb`), or neither (`none`: it refused both).
 */
export type MemberProtocol = "mccache.v1" | "geecachepb" | "none";

/**
 * Channel option carrying the {@linkcode MemberProtocols} the `mccache_ring`
 * balancer routes by; the `grpc.internal.no_subchannel` prefix keeps it out
 * of subchannel keys.
 */
export const PROTOCOLS_OPTION = "grpc.internal.no_subchannel.mccache_protocols";

/**
 * Call metadata: `geecachepb` on a call of the Go original's `Get`, which
 * any member but one that refused it may serve; absent on mccache's calls,
 * which skip members that speak only the Go original's.
 */
export const PROTOCOL_METADATA_KEY = "mccache-protocol";

/** Options for {@linkcode MemberProtocols}. */
export interface MemberProtocolsOptions {
  /**
   * Asks a connected member whose protocol is not known yet which one it
   * speaks; `undefined` when it could not tell (it is asked again the next
   * time connections are reported). Without it, protocols are learned from
   * calls alone.
   * @default {undefined}
   */
  probe?: (member: string) => Promise<MemberProtocol | undefined>;
}

/**
 * What a process knows of each member's protocol, and which members are
 * connected (as the balancer reports them). A member not heard from yet is
 * taken to speak mccache's protocol: one that refuses it is learned from its
 * answer and remembered until it leaves or registers again.
 *
 * @example Learn that a member runs the Go original
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemberProtocols } from "@mccache/core/grpc";
 *
 * const protocols = new MemberProtocols();
 * assert(protocols.speaksMccache("127.0.0.1:8002"));
 * protocols.learn("127.0.0.1:8002", "geecachepb");
 * assert(!protocols.speaksMccache("127.0.0.1:8002"));
 * ```
 */
export class MemberProtocols {
  #known = new Map<string, MemberProtocol>();
  #registrations = new Map<string, string | undefined>();
  #connected: ReadonlySet<string> = new Set();
  #probing = new Set<string>();
  #probe: MemberProtocolsOptions["probe"];
  #listeners = new Set<() => void>();
  #notifyScheduled = false;

  /** Creates an empty table. */
  constructor(options: MemberProtocolsOptions = {}) {
    this.#probe = options.probe;
  }

  /** The protocol learned for `member`, or `undefined` while it is not known. */
  of(member: string): MemberProtocol | undefined {
    return this.#known.get(member);
  }

  /** Whether mccache's calls may go to `member`: unless it refused them. */
  speaksMccache(member: string): boolean {
    const protocol = this.#known.get(member);
    return protocol === undefined || protocol === "mccache.v1";
  }

  /** Records what `member` was seen to speak. */
  learn(member: string, protocol: MemberProtocol): void {
    const known = this.#known.get(member);
    // Refusing mccache's calls tells nothing new of a member that refused both.
    if (known === protocol || (known === "none" && protocol === "geecachepb")) return;
    this.#known.set(member, protocol);
    this.#changed();
  }

  /**
   * Takes the current members: what was learned of a member that left, or
   * that registered again (a restarted member may run another build), is
   * forgotten. `registrationOf` names a member's registration, e.g. its etcd
   * lease.
   */
  sync(members: readonly string[], registrationOf?: (member: string) => string | undefined): void {
    const current = new Set(members);
    let forgot = false;
    for (const member of [...this.#registrations.keys()]) {
      if (!current.has(member)) {
        this.#registrations.delete(member);
        forgot = this.#known.delete(member) || forgot;
      }
    }
    for (const member of current) {
      const registration = registrationOf?.(member);
      if (this.#registrations.has(member) && this.#registrations.get(member) !== registration) {
        forgot = this.#known.delete(member) || forgot;
      }
      this.#registrations.set(member, registration);
    }
    if (forgot) this.#changed();
    this.#probeUnknown();
  }

  /** Whether `member`'s connection is up, as the balancer last reported. */
  connected(member: string): boolean {
    return this.#connected.has(member);
  }

  /**
   * The protocol a get of `key` goes in: that of the first member from the
   * key's owner (`ring.owner(key)`) on that is connected and serves. The balancer places the
   * call on the same member: the owner, unless it is down or refuses.
   */
  protocolFor(ring: RingSnapshot, key: string, owner: string): MemberProtocol | undefined {
    const protocol = this.#known.get(owner);
    if (protocol !== "none" && this.#connected.has(owner)) return protocol;
    const serves = (member: string) =>
      this.#connected.has(member) && this.#known.get(member) !== "none";
    const next = ring.pick(ring.hashKey(key), 0, { accept: serves });
    return next === undefined ? protocol : this.#known.get(next);
  }

  /** Takes the members whose connections are up; the balancer reports them. */
  setConnected(members: ReadonlySet<string>): void {
    this.#connected = members;
    this.#probeUnknown();
  }

  /** Whether some connected member is known to serve gets, in either protocol. */
  get serving(): boolean {
    for (const member of this.#connected) {
      const protocol = this.#known.get(member);
      if (protocol === "mccache.v1" || protocol === "geecachepb") return true;
    }
    return false;
  }

  /** Calls `listener` (later, once per burst) after what is known changed. */
  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  // Listeners run on a later tick: learn() is called from inside grpc-js's
  // callbacks, and the balancer must not re-enter the channel from there.
  #changed(): void {
    if (this.#notifyScheduled || this.#listeners.size === 0) return;
    this.#notifyScheduled = true;
    setTimeout(() => {
      this.#notifyScheduled = false;
      for (const listener of this.#listeners) listener();
    }, 0);
  }

  #probeUnknown(): void {
    const probe = this.#probe;
    if (probe === undefined) return;
    for (const member of this.#connected) {
      if (this.#known.has(member) || this.#probing.has(member)) continue;
      if (!this.#registrations.has(member)) continue; // not (or no longer) a member
      this.#probing.add(member);
      const registration = this.#registrations.get(member);
      // Started on a later tick: the balancer reports connections from inside its update.
      setTimeout(() => {
        probe(member).then((protocol) => {
          this.#probing.delete(member);
          // An answer about a registration that has since gone tells nothing,
          // and what the member's own answers taught meanwhile wins.
          const same = this.#registrations.get(member) === registration;
          const current = same && this.#registrations.has(member) && !this.#known.has(member);
          if (protocol !== undefined && current) this.learn(member, protocol);
        });
      }, 0);
    }
  }
}

/**
 * Whether a failed call means the member does not serve the method at all.
 * A server of mccache's that fails with UNIMPLEMENTED names its error class
 * in the trailers (an `UnsupportedError` passed on from the Go original);
 * a server that lacks the method does not.
 *
 * @example
 * ```ts
 * import * as grpc from "@grpc/grpc-js";
 * import assert from "node:assert/strict";
 * import { refusedMethod } from "./protocols.ts";
 *
 * assert(refusedMethod({ code: grpc.status.UNIMPLEMENTED, metadata: new grpc.Metadata() }));
 * assert(!refusedMethod({ code: grpc.status.UNAVAILABLE, metadata: new grpc.Metadata() }));
 * ```
 */
export function refusedMethod(error: { code?: number; metadata?: grpc.Metadata }): boolean {
  if (error.code !== grpc.status.UNIMPLEMENTED) return false;
  return (error.metadata?.get(ERROR_METADATA_KEY).length ?? 0) === 0;
}

type Method = grpc.MethodDefinition<object, unknown>;
const GO_ORIGINAL_GET = GeeCacheClient.service.Get as Method;
const STATS = CacheClient.service.Stats as Method;

/** A unary call of `method` with raw errors, which callers map themselves. */
function unary<Res>(
  client: grpc.Client,
  method: Method,
  request: object,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (error: grpc.ServiceError | null, response: Res | undefined, peer: string) => void,
): grpc.ClientUnaryCall {
  const call: grpc.ClientUnaryCall = client.makeUnaryRequest(
    method.path,
    method.requestSerialize,
    method.responseDeserialize,
    request,
    metadata,
    options,
    (error, response) => callback(error, response as Res | undefined, call.getPeer()),
  );
  return call;
}

/**
 * Calls the Go original's `Get`. The callback receives the raw error, and
 * the address of the member that answered (the call's peer).
 */
export function callGoOriginalGet(
  client: grpc.Client,
  request: GoOriginalRequest,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (
    error: grpc.ServiceError | null,
    response: GoOriginalResponse | undefined,
    peer: string,
  ) => void,
): grpc.ClientUnaryCall {
  metadata.set(PROTOCOL_METADATA_KEY, "geecachepb");
  return unary(client, GO_ORIGINAL_GET, request, metadata, options, callback);
}

/**
 * Turns a failed call of the Go original's `Get` into an error naming the
 * member that answered. The Go original fails with plain errors (UNKNOWN and
 * its message, e.g. its getter's), which are its load failing (HTTP 502);
 * mccache nodes that answer it name their errors as on their own calls.
 */
export function goOriginalError(error: grpc.ServiceError, member: string): Error {
  if (
    error.code === grpc.status.UNKNOWN &&
    (error.metadata?.get(ERROR_METADATA_KEY).length ?? 0) === 0
  ) {
    return new Error(`${member}: ${error.details}`);
  }
  return fromServiceError(error, member);
}

/**
 * The error for a write of a key that a member of the Go original owns: it
 * serves only `Get`, so nothing can store or remove the key there.
 *
 * @example The error names the Go member
 * ```ts
 * import assert from "node:assert/strict";
 * import { unsupportedWrite } from "@mccache/core/grpc";
 *
 * assert.match(unsupportedWrite("127.0.0.1:8002", "set").message, /127\.0\.0\.1:8002/);
 * ```
 */
export function unsupportedWrite(member: string, write: "set" | "remove"): UnsupportedError {
  const what = write === "set" ? "store values (PUT)" : "remove keys (DELETE)";
  return new UnsupportedError(
    `${member} runs the Go original, which cannot ${what}: only keys that mccache nodes own can`,
  );
}

// Codes that say the member was not reached, so it told nothing.
const UNREACHED = new Set<number>([
  grpc.status.UNAVAILABLE,
  grpc.status.DEADLINE_EXCEEDED,
  grpc.status.CANCELLED,
]);

function ask(
  client: grpc.Client,
  method: Method,
  request: object,
  metadata: grpc.Metadata,
  deadline: number,
): Promise<grpc.ServiceError | null> {
  return new Promise((resolve) => {
    try {
      unary(client, method, request, metadata, { deadline }, (error) => resolve(error));
    } catch (error) {
      // A probe started on a later tick may find the channel closed: the
      // member was not reached (a throw here would be an unhandled rejection).
      const details = error instanceof Error ? error.message : String(error);
      resolve(
        Object.assign(new Error(details), {
          code: grpc.status.UNAVAILABLE,
          details,
          metadata: new grpc.Metadata(),
        }) as grpc.ServiceError,
      );
    }
  });
}

/**
 * Asks a member which protocol it speaks: mccache's `Stats`, then the Go
 * original's `Get` of an empty key, which the Go original answers with an
 * error of its own. `route` makes the metadata that sends a call to that
 * member (with `mccache_ring`, its address under `mccache-member`).
 * `undefined` when the member could not be reached.
 */
export async function probeMember(
  client: grpc.Client,
  route: () => grpc.Metadata,
  timeoutMs = 5000,
): Promise<MemberProtocol | undefined> {
  const ours = await ask(client, STATS, {}, route(), Date.now() + timeoutMs);
  if (ours === null) return "mccache.v1";
  if (!refusedMethod(ours)) return undefined;
  const metadata = route();
  metadata.set(PROTOCOL_METADATA_KEY, "geecachepb");
  const goOriginal = await ask(
    client,
    GO_ORIGINAL_GET,
    { group: "", key: "" },
    metadata,
    Date.now() + timeoutMs,
  );
  if (goOriginal !== null && refusedMethod(goOriginal)) return "none";
  if (goOriginal !== null && UNREACHED.has(goOriginal.code)) return undefined;
  return "geecachepb";
}
