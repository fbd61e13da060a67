/**
 * What starting and stopping a node and a gateway share: a
 * {@linkcode CleanupStack} that closes what a start-up opened, newest first,
 * whether the start-up fails half-way or the thing is stopped later;
 * {@linkcode once}, so that a second stop waits for the first; the etcd
 * setup both begin with, {@linkcode watchEtcdMembers}; and
 * {@linkcode serveHttp}, which fails in one line when the address is taken.
 *
 * Internal: `deno.json` does not export it. It sits in a folder of its own
 * because `src/*.ts` is the core, which may not import etcd.
 *
 * @module
 */

import type { Etcd3 } from "etcd3";
import { type EtcdTlsOptions, openEtcd3 } from "../etcd/client.ts";
import { EtcdDiscovery } from "../etcd/discovery.ts";
import type { Logger } from "../log/logger.ts";

/** Closes one thing that a start-up opened. */
export type Cleanup = () => Promise<void> | void;

/**
 * The cleanups of what a start-up opened, run in reverse order of opening:
 * a server stops taking calls before the clients it calls through close.
 *
 * @example Close in reverse order, also when the start-up fails
 * ```ts
 * import assert from "node:assert/strict";
 * import { CleanupStack } from "./lifecycle.ts";
 *
 * const closed: string[] = [];
 * const stack = new CleanupStack();
 * await assert.rejects(stack.start(() => {
 *   stack.defer(() => void closed.push("client"));
 *   stack.defer(() => void closed.push("server"));
 *   throw new Error("Cannot listen");
 * }));
 * assert.deepEqual(closed, ["server", "client"]);
 * ```
 */
export class CleanupStack {
  #cleanups: Cleanup[] = [];

  /** Adds the cleanup of a thing just opened: it runs before those of things opened earlier. */
  defer(cleanup: Cleanup): void {
    this.#cleanups.push(cleanup);
  }

  /**
   * Runs the cleanups, newest first, each once. One that fails does not keep
   * the others from running; the first failure is rethrown after them all.
   */
  async close(): Promise<void> {
    let failure: { error: unknown } | undefined;
    while (this.#cleanups.length > 0) {
      try {
        await this.#cleanups.pop()!();
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure) throw failure.error;
  }

  /**
   * Runs a start-up whose steps {@linkcode CleanupStack.defer} their cleanups
   * here. When it fails, what it already opened is closed before its error is
   * rethrown: that error says what went wrong, so a cleanup's would only hide it.
   */
  async start<T>(steps: () => T | Promise<T>): Promise<T> {
    try {
      return await steps();
    } catch (error) {
      await this.close().catch(() => {});
      throw error;
    }
  }
}

/**
 * Wraps `fn` so that it runs on the first call only; every call returns the
 * first call's promise. Makes `stop()` and `[Symbol.asyncDispose]()` idempotent.
 *
 * @example Stop twice, run once
 * ```ts
 * import assert from "node:assert/strict";
 * import { once } from "./lifecycle.ts";
 *
 * let runs = 0;
 * const stop = once(async () => void runs++);
 * await Promise.all([stop(), stop()]);
 * assert.equal(runs, 1);
 * ```
 */
export function once(fn: () => Promise<void>): () => Promise<void> {
  let result: Promise<void> | undefined;
  return () => result ??= fn();
}

/** Where etcd is and how long to wait for it at start; the node's and the gateway's `etcd` option. */
export interface EtcdSetupOptions {
  /** etcd endpoints, `host:port`. @default {["127.0.0.1:2379"]} */
  endpoints?: string[];
  /** Key prefix of the members. @default {"mccache"} */
  prefix?: string;
  /** etcd user name. @default {undefined} */
  username?: string;
  /** etcd password. @default {undefined} */
  password?: string;
  /** TLS for `https://` endpoints. @default {undefined} */
  tls?: EtcdTlsOptions;
  /** How long to wait for etcd at start, in milliseconds. @default {5000} */
  timeout?: number;
}

/** Options for {@linkcode watchEtcdMembers}: where etcd is, and how to watch. */
export interface WatchEtcdOptions extends EtcdSetupOptions {
  /** Lifecycle log lines. */
  logger: Logger;
  /** Whether members are named as the Go original names them (`ring.compat: "seed"`). */
  seedRing: boolean;
  /** Called with the members after each change, and the registration of each. */
  onChange: (
    members: readonly string[],
    registrationOf: (member: string) => string | undefined,
  ) => void;
  /** How long members lost in an etcd outage are kept, in milliseconds. @default {5000} */
  graceMs?: number;
}

/** What {@linkcode watchEtcdMembers} started. */
export interface EtcdMembers {
  /** The client; the stack closes it. */
  client: Etcd3;
  /** The running discovery; the stack stops it. */
  discovery: EtcdDiscovery;
  /** The members read at start. */
  members: readonly string[];
  /** Names a member's current registration (see `EtcdDiscovery.registrationOf`). */
  registrationOf: (member: string) => string | undefined;
}

/**
 * Connects to etcd and watches the members under the prefix; the client and
 * the discovery close with `stack`, newest first. Rejects with the
 * discovery's one-line error when etcd is not reached within `timeout`.
 *
 * @example Watch the members until the stack closes
 * ```ts ignore
 * const stack = new CleanupStack();
 * const { members } = await watchEtcdMembers(stack, {
 *   endpoints: ["127.0.0.1:2379"],
 *   logger: silentLogger,
 *   seedRing: false,
 *   onChange: (members) => console.log(members),
 * });
 * await stack.close();
 * ```
 */
export async function watchEtcdMembers(
  stack: CleanupStack,
  options: WatchEtcdOptions,
): Promise<EtcdMembers> {
  const client: Etcd3 = openEtcd3({
    endpoints: options.endpoints,
    username: options.username,
    password: options.password,
    tls: options.tls,
  });
  stack.defer(() => client.close());
  const registrationOf = (member: string) => discovery.registrationOf(member);
  const discovery = new EtcdDiscovery(client, {
    prefix: options.prefix,
    logger: options.logger,
    seedRing: options.seedRing,
    graceMs: options.graceMs,
    onChange: (members) => options.onChange(members, registrationOf),
  });
  const members = await discovery.start({ timeout: options.timeout ?? 5000 });
  stack.defer(() => discovery.stop());
  return { client, discovery, members, registrationOf };
}

/** Where {@linkcode serveHttp} listens. */
export interface HttpListenOptions {
  /** Host name or IP address to listen on. */
  hostname: string;
  /** Port to listen on; 0 asks for a free one. */
  port: number;
  /** The address as the user gave it, for the error message. @default {`${hostname}:${port}`} */
  addr?: string;
}

/**
 * `Deno.serve`, quietly. Throws a one-line `Error` naming the address when
 * it cannot listen, e.g. `Cannot listen on 127.0.0.1:9999: address already
 * in use`.
 *
 * @example Serve on a free port
 * ```ts
 * import { serveHttp } from "./lifecycle.ts";
 *
 * const server = serveHttp({ hostname: "127.0.0.1", port: 0 }, () => new Response("ok"));
 * await server.shutdown();
 * ```
 */
export function serveHttp(
  at: HttpListenOptions,
  handler: (request: Request) => Response | Promise<Response>,
): Deno.HttpServer<Deno.NetAddr> {
  const { hostname, port } = at;
  try {
    return Deno.serve({ hostname, port, onListen: () => {} }, handler);
  } catch (error) {
    const why = error instanceof Deno.errors.AddrInUse ? "address already in use" : String(error);
    throw new Error(`Cannot listen on ${at.addr ?? `${hostname}:${port}`}: ${why}`);
  }
}
