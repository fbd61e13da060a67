/**
 * {@linkcode GrpcPeer}: another cache node, reached over gRPC.
 *
 * @module
 */

import * as grpc from "@grpc/grpc-js";
import { PeerError, UnsupportedError } from "../errors.ts";
import type { PeerCallOptions, PeerGetter, PeerRequest, PeerValue } from "../peers.ts";
import { deadlineOf } from "./deadline.ts";
import type { MemberHealth } from "./health.ts";
import {
  callGoOriginalGet,
  goOriginalError,
  MemberProtocols,
  refusedMethod,
  unsupportedWrite,
} from "./protocols.ts";
import { MAX_MESSAGE_BYTES } from "./server.ts";
import { clientCredentials, type TlsOptions } from "./tls.ts";
import { fromServiceError } from "./status.ts";
import type { GetResponse, GoOriginalResponse, StatsResponse } from "./messages.ts";
import { CacheClient } from "./_proto.ts";

/**
 * grpc-js channel options by name, e.g. `{ "grpc.keepalive_time_ms": 2000 }`.
 * Any grpc-js `ChannelOptions` fits here, and these fit wherever grpc-js
 * takes `ChannelOptions`; spelled as a record of our own so that these docs
 * stand without grpc-js's types.
 */
export type GrpcChannelOptions = Readonly<Record<string, string | number>>;

/** Options for {@linkcode GrpcPeer}. */
export interface GrpcPeerOptions {
  /** Deadline for a call whose signal carries none, in milliseconds. @default {5000} */
  timeout?: number;
  /** Extra grpc-js channel options. @default {{}} */
  channelOptions?: GrpcChannelOptions;
  /** Mutual TLS with the peer; plaintext without. @default {undefined} */
  tls?: TlsOptions;
  /**
   * What is known of the members' protocols, shared by a node's peers.
   * @default {a table of its own}
   */
  protocols?: MemberProtocols;
  /**
   * How the members have been answering, shared by a node's peers: a get
   * gives up on a peer that answered nothing within its budget, and the
   * group loads the key itself.
   * @default {undefined (wait for the deadline)}
   */
  health?: MemberHealth;
}

/** How often connections to nodes are pinged, by default. */
export const DEFAULT_KEEPALIVE_MS = 2000;

/** Channel options for every connection between nodes. */
export const NODE_CHANNEL_OPTIONS: GrpcChannelOptions = {
  "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
  "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
  // An idle channel closes its connection with a GOAWAY, which some Deno
  // versions crash on; between nodes, connections are cheap to keep.
  "grpc.client_idle_timeout_ms": 60 * 60 * 1000,
  "grpc.initial_reconnect_backoff_ms": 100,
  "grpc.max_reconnect_backoff_ms": 1000,
  ...keepaliveOptions(DEFAULT_KEEPALIVE_MS),
};

/**
 * Channel options that ping an idle or busy connection every `ms` and drop
 * it when the ping is not answered within as long: a frozen or silently gone
 * peer is noticed without waiting for etcd (its lease outlives a freeze).
 *
 * @example Ping connections every 2 s
 * ```ts
 * import { keepaliveOptions } from "@mccache/core/grpc";
 * import assert from "node:assert/strict";
 *
 * assert.equal(keepaliveOptions(2000)["grpc.keepalive_time_ms"], 2000);
 * ```
 */
export function keepaliveOptions(ms: number): GrpcChannelOptions {
  return {
    "grpc.keepalive_time_ms": ms,
    "grpc.keepalive_timeout_ms": ms,
    "grpc.keepalive_permit_without_calls": 1,
  };
}

/**
 * One peer node, reached over gRPC: the {@linkcode PeerGetter} a
 * {@linkcode GrpcPeerPicker} hands to groups. Calls carry the caller's
 * deadline (see `deadlineSignal`), or `timeout` when it has none. A peer
 * that refuses mccache's calls runs the Go original: its gets go to it as
 * the Go original's `Get` from then on, and writes to it fail with
 * `UnsupportedError`.
 *
 * @example Ask a node for a key
 * ```ts ignore
 * import { GrpcPeer } from "@mccache/core/grpc";
 *
 * const peer = new GrpcPeer("127.0.0.1:8001");
 * const { value } = await peer.get({ group: "scores", key: "Tom" }, {});
 * peer.close();
 * ```
 */
export class GrpcPeer implements PeerGetter {
  #addr: string;
  #client: grpc.Client;
  #timeout: number;
  #protocols: MemberProtocols;
  #health: MemberHealth | undefined;

  /** Creates a client for the node at `addr` (`host:port`); it connects on first use. */
  constructor(addr: string, options: GrpcPeerOptions = {}) {
    this.#addr = addr;
    this.#timeout = options.timeout ?? 5000;
    this.#protocols = options.protocols ?? new MemberProtocols();
    this.#health = options.health;
    const tls = clientCredentials(options.tls);
    this.#client = new CacheClient(addr, tls.credentials, {
      ...NODE_CHANNEL_OPTIONS,
      ...tls.options,
      ...options.channelOptions,
    });
  }

  /** The peer's address. */
  get addr(): string {
    return this.#addr;
  }

  /** Fetches a value; the peer serves it itself (`local`), never forwarding it. */
  get(request: PeerRequest, options: PeerCallOptions): Promise<PeerValue> {
    const health = this.#health;
    if (health === undefined) return this.#get(request, options);
    const addr = this.#addr;
    const started = Date.now();
    const call = this.#get(request, options);
    call.then(() => health.answered(addr, Date.now() - started), () => {});
    return new Promise((resolve, reject) => {
      // Given up on only when the peer answers nothing at all, not even a
      // ping: a slow load on a live peer is waited for (one load per key).
      const budget = health.budget(addr);
      let settled = false;
      const check = async () => {
        const alive = health.silentFor(addr) < budget || await health.ping(addr);
        // The call may have ended during the ping: nothing more to watch.
        if (settled) return;
        if (alive) timer = setTimeout(check, budget);
        else reject(new PeerError(`${addr} answered nothing within ${budget} ms`));
      };
      let timer = setTimeout(check, budget);
      call.then(resolve, reject).finally(() => {
        settled = true;
        clearTimeout(timer);
      });
    });
  }

  async #get(request: PeerRequest, options: PeerCallOptions): Promise<PeerValue> {
    if (this.#protocols.of(this.#addr) === "none") {
      // Until it registers again: the group loads the key itself.
      throw new PeerError(`${this.#addr} serves neither mccache.v1 nor geecachepb`);
    }
    if (this.#speaksGoOriginal) return await this.#goOriginalGet(request, options);
    let response: GetResponse;
    try {
      response = await this.#call<GetResponse>("Get", { ...request, local: true }, options);
    } catch (error) {
      if (this.#speaksGoOriginal) return await this.#goOriginalGet(request, options);
      throw error;
    }
    return {
      // Decoded bytes are a view into the received buffer: copy what the cache keeps.
      value: new Uint8Array(response.value),
      ttl: response.ttl_ms > 0 ? response.ttl_ms : undefined,
    };
  }

  /** Stores a value at the peer, which owns the key. */
  async set(
    request: PeerRequest & { value: Uint8Array; ttl?: number },
    options: PeerCallOptions,
  ): Promise<void> {
    const message = { ...request, ttl_ms: request.ttl ?? 0, local: true };
    await this.#write("Set", message, options);
  }

  /** Drops the key at the peer; with `local`, the peer passes it on to nobody. */
  async remove(request: PeerRequest & { local: boolean }, options: PeerCallOptions): Promise<void> {
    await this.#write("Remove", request, options);
  }

  /**
   * Returns the peer's counters and ring members.
   *
   * @example
   * ```ts ignore
   * import { GrpcPeer } from "@mccache/core/grpc";
   *
   * const peer = new GrpcPeer("127.0.0.1:8001");
   * console.log((await peer.stats()).members);
   * ```
   */
  stats(options: PeerCallOptions = {}): Promise<StatsResponse> {
    return this.#call<StatsResponse>("Stats", {}, options);
  }

  /** Closes the connection. */
  close(): void {
    this.#client.close();
  }

  get #speaksGoOriginal(): boolean {
    return this.#protocols.of(this.#addr) === "geecachepb";
  }

  async #write(method: "Set" | "Remove", request: object, options: PeerCallOptions): Promise<void> {
    const refused = () => unsupportedWrite(this.#addr, method === "Set" ? "set" : "remove");
    if (this.#speaksGoOriginal) throw refused();
    try {
      await this.#call(method, request, options);
    } catch (error) {
      throw this.#speaksGoOriginal ? refused() : error;
    }
  }

  #goOriginalGet(request: PeerRequest, options: PeerCallOptions): Promise<PeerValue> {
    const message = { group: request.group, key: request.key };
    return this.#unary<GoOriginalResponse>(
      (callOptions, done) =>
        callGoOriginalGet(this.#client, message, new grpc.Metadata(), callOptions, done),
      (error) => {
        if (!refusedMethod(error)) return goOriginalError(error, this.#addr);
        this.#protocols.learn(this.#addr, "none");
        return new UnsupportedError(`${this.#addr} serves neither mccache.v1 nor geecachepb`);
      },
      options,
    ).then((response) => ({ value: new Uint8Array(response.value), ttl: undefined }));
  }

  #call<Res>(method: string, request: object, options: PeerCallOptions): Promise<Res> {
    const rpc = (this.#client as unknown as Record<string, UnaryMethod<Res>>)[method];
    return this.#unary<Res>(
      (callOptions, done) => rpc.call(this.#client, request, callOptions, done),
      (error) => {
        if (!refusedMethod(error)) return fromServiceError(error, this.#addr);
        // It lacks mccache's service: a node of the Go original.
        this.#protocols.learn(this.#addr, "geecachepb");
        return new UnsupportedError(`${this.#addr} does not serve mccache.v1.Cache/${method}`);
      },
      options,
    );
  }

  // One unary call with the caller's deadline and cancellation; `failure`
  // turns a failed call into the error to reject with.
  #unary<Res>(
    start: (options: grpc.CallOptions, done: Callback<Res>) => grpc.ClientUnaryCall,
    failure: (error: grpc.ServiceError) => Error,
    options: PeerCallOptions = {},
  ): Promise<Res> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const deadline = deadlineOf(signal) ?? Date.now() + this.#timeout;
    return new Promise<Res>((resolve, reject) => {
      const onAbort = () => {
        call.cancel();
        reject(signal!.reason);
      };
      const call = start({ deadline }, (error, response) => {
        signal?.removeEventListener("abort", onAbort);
        if (error) reject(failure(error));
        else resolve(response!);
      });
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }
}

type Callback<Res> = (error: grpc.ServiceError | null, response?: Res) => void;

type UnaryMethod<Res> = (
  request: object,
  options: grpc.CallOptions,
  callback: Callback<Res>,
) => grpc.ClientUnaryCall;
