/**
 * {@linkcode EtcdClient} ({@linkcode createEtcdClient}): an etcd client
 * tuned to notice an etcd outage fast and to recover within about a second
 * of etcd's return.
 *
 * @module
 */

import {
  circuitBreaker,
  ConsecutiveBreaker,
  ExponentialBackoff,
  handleWhen,
  type IBackoff,
  retry,
} from "cockatiel";
import { Buffer } from "node:buffer";
import { Etcd3, GRPCDeadlineExceededError, isRecoverableError } from "etcd3";

/** Options for {@linkcode createEtcdClient}. */
export interface EtcdClientOptions {
  /**
   * The etcd members to talk to, each `"host:port"`, `"http://host:port"`
   * or, for TLS, `"https://host:port"` (all of one kind).
   * @default {["127.0.0.1:2379"]}
   */
  endpoints?: string[];
  /** TLS for `https://` endpoints. @default {undefined (the system's CAs, no client certificate)} */
  tls?: EtcdTlsOptions;
  /** User name for etcd's password authentication; needs `password`. @default {undefined (no auth)} */
  username?: string;
  /** Password for `username`. @default {undefined} */
  password?: string;
  /**
   * How long one unary call (get, put, grant, revoke) may take in total, in
   * milliseconds, retries included. Streams (watches, keepalives) have none.
   * @default {2000}
   */
  callTimeout?: number;
}

/** TLS for talking to etcd. */
export interface EtcdTlsOptions {
  /** The CA that signed etcd's certificate (PEM). @default {undefined (the system's)} */
  ca?: Uint8Array;
  /** A client certificate (PEM), for an etcd with `--client-cert-auth`; needs `key`. @default {undefined} */
  cert?: Uint8Array;
  /** The client certificate's private key (PEM). @default {undefined} */
  key?: Uint8Array;
}

const DEFAULT_ENDPOINTS: readonly string[] = ["127.0.0.1:2379"];
const ENDPOINT = /^(?:https?:\/\/)?(?:\[[0-9a-fA-F:.]+\]|[^\s/:,[\]]+):(\d{1,5})$/;
const IP_HOST = /^(?:https?:\/\/)?(?:\[[0-9a-fA-F:.]+\]|\d{1,3}(?:\.\d{1,3}){3}):/;

// What the registrar and the discovery need to know about a client they did
// not create, for their error messages and their own deadlines.
const settings = new WeakMap<Etcd3, { endpoints: readonly string[]; callTimeout: number }>();

/**
 * An etcd client for cluster membership: hand it to `EtcdRegistrar`
 * and `EtcdDiscovery`, and close it once they are stopped. It is a
 * handle: for etcd calls of your own, use an `etcd3` client (the registrar and
 * the discovery take one too).
 *
 * etcd3's defaults keep a failed host's circuit open for 5 s and back off
 * watch reconnects up to 30 s, and calls have no deadline, so a hung etcd
 * hangs them. Here every unary call gets a deadline `callTimeout` after it is
 * made and a timed-out call is not retried, so each ends within about
 * `callTimeout`; a fast failure (refused, reset) is retried twice, on other
 * endpoints if there are any. The circuit half-opens after 0.5 s, and watch and
 * connection retries back off from 0.1 s to at most 1 s.
 *
 * @example Connect to a local etcd
 * ```ts
 * import { EtcdClient } from "@mccache/core/etcd";
 *
 * const client = new EtcdClient({ endpoints: ["127.0.0.1:2379"] }); // connects on first use
 * client.close();
 * ```
 */
export class EtcdClient {
  #etcd: Etcd3;

  /** Checks the options; the connection is made on first use. */
  constructor(options: EtcdClientOptions = {}) {
    this.#etcd = openEtcd3(options);
    handles.set(this, this.#etcd);
  }

  /** Closes the connections to etcd. */
  close(): void {
    this.#etcd.close();
  }
}

// The etcd3 client behind each handle, for the registrar and the discovery.
const handles = new WeakMap<EtcdClient, Etcd3>();

/**
 * The etcd3 client a registrar or a discovery talks through: the one behind
 * an {@linkcode EtcdClient}, or an `etcd3` client of the caller's own.
 * Not re-exported.
 */
export function etcd3Of(client: EtcdClient | Etcd3): Etcd3 {
  return client instanceof EtcdClient ? handles.get(client)! : client;
}

/**
 * Creates an {@linkcode EtcdClient}: the same as `new EtcdClient(options)`.
 *
 * @example Register a node through it
 * ```ts ignore
 * import { createEtcdClient, EtcdRegistrar } from "@mccache/core/etcd";
 *
 * const client = createEtcdClient({ endpoints: ["127.0.0.1:2379"] });
 * const registrar = new EtcdRegistrar(client, "127.0.0.1:8001");
 * await registrar.start({ timeout: 3000 });
 * await registrar.stop();
 * client.close();
 * ```
 */
export function createEtcdClient(options: EtcdClientOptions = {}): EtcdClient {
  return new EtcdClient(options);
}

/**
 * An etcd3 client with {@linkcode EtcdClient}'s fault handling, for the code
 * of this package that calls etcd itself. Not re-exported.
 */
export function openEtcd3(options: EtcdClientOptions = {}): Etcd3 {
  const endpoints = [...(options.endpoints ?? DEFAULT_ENDPOINTS)];
  const callTimeout = options.callTimeout ?? 2000;
  const { username, password } = options;
  checkClientOptions(endpoints, callTimeout, username, password);
  checkTls(endpoints, options.tls);
  const tls = options.tls;
  const client = new Etcd3({
    hosts: endpoints,
    ...(tls?.ca || tls?.cert ? { credentials: etcdCredentials(tls) } : {}),
    ...(username !== undefined && password !== undefined ? { auth: { username, password } } : {}),
    // A factory, so each call gets a deadline counted from when it is made.
    defaultCallOptions: (context) => context.isStream ? {} : { deadline: Date.now() + callTimeout },
    faultHandling: {
      host: () =>
        circuitBreaker(handleWhen(isRecoverableError), {
          halfOpenAfter: 500,
          breaker: new ConsecutiveBreaker(3),
        }),
      global: retry(handleWhen(isRetryable), { maxAttempts: 2 }),
      // etcd3's types ask for an IBackoff, but it calls `.next()` before the
      // first use, so a backoff factory is what works (as etcd3's own default).
      watchBackoff: new ExponentialBackoff({
        initialDelay: 100,
        maxDelay: 1000,
      }) as unknown as IBackoff<unknown>,
    },
    grpcOptions: {
      "grpc.initial_reconnect_backoff_ms": 100,
      "grpc.max_reconnect_backoff_ms": 1000,
    },
  });
  settings.set(client, { endpoints, callTimeout });
  return client;
}

function checkClientOptions(
  endpoints: string[],
  callTimeout: number,
  username?: string,
  password?: string,
): void {
  if (endpoints.length === 0) {
    throw new TypeError("Cannot create etcd client: endpoints must not be empty");
  }
  endpoints.forEach(checkEndpoint);
  if (!Number.isFinite(callTimeout) || callTimeout <= 0) {
    throw new RangeError(
      `Cannot create etcd client: callTimeout must be a positive number: received ${callTimeout}`,
    );
  }
  if ((username === undefined) !== (password === undefined)) {
    throw new TypeError("Cannot create etcd client: username and password must be given together");
  }
}

function etcdCredentials(tls: EtcdTlsOptions) {
  // etcd3's type asks for a CA; without one grpc-js uses the system's.
  const buffer = (pem: Uint8Array | undefined) => pem && Buffer.from(pem);
  return {
    rootCertificate: buffer(tls.ca) as Buffer,
    privateKey: buffer(tls.key),
    certChain: buffer(tls.cert),
  };
}

// Throws when the TLS options do not fit the endpoints.
function checkTls(endpoints: string[], tls: EtcdTlsOptions | undefined): void {
  const secure = endpoints.filter((e) => e.startsWith("https://")).length;
  if (secure !== 0 && secure !== endpoints.length) {
    throw new TypeError("Cannot create etcd client: endpoints must be all https:// or none");
  }
  if (secure === 0 && tls !== undefined) {
    throw new TypeError("Cannot create etcd client: TLS options need https:// endpoints");
  }
  if ((tls?.cert === undefined) !== (tls?.key === undefined)) {
    throw new TypeError(
      "Cannot create etcd client: a client certificate needs its key, and a key its certificate",
    );
  }
  // etcd3 opens its authentication channel without our channel options, so
  // a name override would not reach it: the endpoints must name etcd.
  const ip = endpoints.find((e) => e.startsWith("https://") && IP_HOST.test(e));
  if (ip !== undefined) {
    throw new TypeError(
      `Invalid etcd endpoint "${ip}": Deno's TLS checks certificates for DNS names only: name etcd by a DNS name in its certificate`,
    );
  }
}

// Retrying a timeout would give a hung etcd a second full callTimeout.
function isRetryable(error: Error): boolean {
  return isRecoverableError(error) && !(error instanceof GRPCDeadlineExceededError);
}

function checkEndpoint(endpoint: string): void {
  const port = ENDPOINT.exec(endpoint)?.[1];
  if (port === undefined || Number(port) < 1 || Number(port) > 65535) {
    throw new TypeError(`Invalid etcd endpoint ${JSON.stringify(endpoint)}: expected host:port`);
  }
}

/**
 * Names the etcd a client talks to, for error messages: `"etcd at
 * 127.0.0.1:2379"`, or `"etcd"` for a client that {@linkcode openEtcd3}
 * did not make. Shared by the registrar and the discovery; not re-exported.
 *
 * @example Name the target in an error
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeEtcd, openEtcd3 } from "./client.ts";
 *
 * const client = openEtcd3({ endpoints: ["127.0.0.1:1"] });
 * assert.equal(describeEtcd(client), "etcd at 127.0.0.1:1");
 * client.close();
 * ```
 */
export function describeEtcd(client: Etcd3): string {
  const endpoints = settings.get(client)?.endpoints;
  return endpoints ? `etcd at ${endpoints.join(",")}` : "etcd";
}

/**
 * The client's `callTimeout` in milliseconds (2000 for a client that
 * {@linkcode openEtcd3} did not make), so that callers can bound a
 * call by both it and their own deadline. Not re-exported.
 *
 * @example Bound a call by a caller's deadline
 * ```ts ignore
 * import { etcdDeadline, openEtcd3 } from "./client.ts";
 *
 * const client = openEtcd3();
 * const deadline = Date.now() + 500;
 * await client.get("k").options({ deadline: etcdDeadline(client, deadline) });
 * ```
 */
export function etcdDeadline(client: Etcd3, notAfter: number): number {
  const callTimeout = settings.get(client)?.callTimeout ?? 2000;
  return Math.min(Date.now() + callTimeout, notAfter);
}
