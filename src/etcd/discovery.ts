/**
 * {@linkcode EtcdDiscovery}: the current set of cache nodes registered in
 * etcd, kept up to date by a watch.
 *
 * @module
 */

import type { Etcd3, IKeyValue, Watcher } from "etcd3";
import { type Logger, silentLogger } from "../log/logger.ts";
import { callDeadline, describeEtcd } from "./client.ts";
import { delay, errorText, moreTelling, refusedCredentials, startFailure } from "./_util.ts";

/** Options for {@linkcode EtcdDiscovery}. */
export interface EtcdDiscoveryOptions {
  /** The key prefix the nodes register under (`<prefix>/<addr>`). @default {"mccache"} */
  prefix?: string;
  /** Receives one line per member joining or leaving and per etcd outage. @default {silentLogger} */
  logger?: Logger;
  /**
   * Called after `start()` with a new sorted member list each time the set
   * of members changes, or a member registers again under a new lease (not
   * for a rewrite of a known node's key under the same lease).
   * @default {undefined}
   */
  onChange?: (members: readonly string[]) => void;
  /**
   * Whether the readers place keys as the Go original does (`--ring seed`).
   * When not, the first member seen with the Go original's value logs a
   * warning: in a mixed cluster every process must agree on owners.
   * @default {false}
   */
  seedRing?: boolean;
}

/** What one registration key says: the member's address, and who wrote it. */
interface Registration {
  addr: string;
  /** The etcd lease (and creation) it was written under: new when it registers again. */
  id: string;
  /** Written by a node of the Go original: `{"Op":0,"Addr":...,"Metadata":null}`. */
  goOriginal: boolean;
}

const MIN_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 1000;
const CANCEL_TIMEOUT_MS = 2000;
const NO_MEMBERS: readonly string[] = Object.freeze([]);

/**
 * Tracks the nodes registered under `<prefix>/` in etcd: a range read, then a
 * watch from the revision after it, so that no change is missed or applied
 * twice. Each value is read as etcd's endpoints-manager JSON: nodes of the
 * Go original write `{"Op":0,"Addr":"<addr>","Metadata":null}`,
 * {@linkcode EtcdRegistrar} writes `{"Addr":"<addr>"}`; `Op` and `Metadata`
 * are ignored, and values that do not parse are skipped with a warning.
 *
 * After the watch reconnects, or when etcd cancels it (for instance because
 * the revision it would resume from was compacted), it reads the prefix
 * again, reconciles, and watches from there: a change made while this
 * process was cut off is never lost.
 *
 * @example Follow the members of a cluster
 * ```ts ignore
 * import { createEtcdClient, EtcdDiscovery } from "@mccache/core/etcd";
 *
 * const client = createEtcdClient({ endpoints: ["127.0.0.1:2379"] });
 * const discovery = new EtcdDiscovery(client, {
 *   onChange: (members) => console.log("members now", members),
 * });
 * console.log("members", await discovery.start({ timeout: 3000 }));
 * // ... later:
 * await discovery.stop();
 * client.close();
 * ```
 */
export class EtcdDiscovery {
  #client: Etcd3;
  #prefix: string;
  #log: Logger;
  #onChange?: (members: readonly string[]) => void;
  #seedRing: boolean;
  #warnedRing = false;
  #state: "idle" | "starting" | "running" | "stopped" = "idle";
  /** etcd key → what its value says. */
  #registrations = new Map<string, Registration>();
  #members = NO_MEMBERS;
  /** member → the id of its registration, as last published. */
  #ids = new Map<string, string>();
  #watcher?: Watcher;
  #stopping = new AbortController();
  #resyncing?: Promise<void>;
  #resyncAgain = false;
  #etcdLost = false;

  /** Prepares the discovery; nothing happens before `start()`. */
  constructor(client: Etcd3, options: EtcdDiscoveryOptions = {}) {
    const prefix = options.prefix ?? "mccache";
    if (prefix === "" || prefix.endsWith("/")) {
      throw new TypeError(
        `Cannot create EtcdDiscovery: prefix must be non-empty without a trailing "/": received ${
          JSON.stringify(prefix)
        }`,
      );
    }
    this.#client = client;
    this.#prefix = `${prefix}/`;
    this.#log = options.logger ?? silentLogger;
    this.#onChange = options.onChange;
    this.#seedRing = options.seedRing ?? false;
  }

  /** The addresses of the registered nodes, sorted; a new array after each change. */
  get members(): readonly string[] {
    return this.#members;
  }

  /**
   * Names `member`'s current registration (its etcd lease and the key's
   * creation), which changes when it registers again, as after a restart.
   *
   * @example
   * ```ts ignore
   * const before = discovery.registrationOf("127.0.0.1:8001");
   * // ... the node restarts and registers under a new lease:
   * assert(discovery.registrationOf("127.0.0.1:8001") !== before);
   * ```
   */
  registrationOf(member: string): string | undefined {
    return this.#ids.get(member);
  }

  /**
   * Reads the current members and starts watching, retrying for up to
   * `timeout` milliseconds; resolves with the members. Rejects with a
   * one-line `Error` naming etcd and the last failure when the time is up,
   * and leaves nothing running (it may be called again).
   */
  async start({ timeout }: { timeout: number }): Promise<readonly string[]> {
    if (this.#state !== "idle") {
      throw new Error(`Cannot start EtcdDiscovery of ${this.#prefix}: it is ${this.#state}`);
    }
    if (!Number.isFinite(timeout) || timeout <= 0) {
      throw new RangeError(
        `Cannot start EtcdDiscovery: timeout must be a positive number: received ${timeout}`,
      );
    }
    this.#state = "starting";
    const starting = this.#startBefore(Date.now() + timeout);
    this.#resyncing = starting;
    try {
      await starting;
    } catch (error) {
      await this.#dropWatcher();
      if (this.#state === "starting") this.#state = "idle";
      throw startFailure(
        `Cannot discover members in ${describeEtcd(this.#client)}`,
        error,
        timeout,
      );
    } finally {
      this.#resyncing = undefined;
    }
    this.#state = "running";
    // The watch may have reconnected while starting: read again if it asked.
    if (this.#resyncAgain) this.#scheduleResync();
    this.#log.info("Discovered members in etcd", { prefix: this.#prefix, members: this.#members });
    this.#checkRing();
    return this.#members;
  }

  /** Stops watching; the member list keeps its last value. Idempotent. */
  async stop(): Promise<void> {
    this.#state = "stopped";
    this.#stopping.abort();
    // A read in flight ends at its deadline and then watches no more.
    await this.#resyncing?.catch(() => {});
    await this.#dropWatcher();
  }

  async #startBefore(notAfter: number): Promise<void> {
    const signal = this.#stopping.signal;
    let failure: unknown;
    for (let backoff = MIN_BACKOFF_MS;; backoff = Math.min(backoff * 2, MAX_BACKOFF_MS)) {
      try {
        await this.#resync(notAfter);
        // The read fails fast when etcd is down; this wait catches a watch
        // that cannot attach, so that start() means "watching".
        return await connected(this.#watcher, notAfter, signal);
      } catch (error) {
        failure = moreTelling(failure, error);
        void this.#dropWatcher();
        // Retrying the same credentials cannot succeed.
        const refused = refusedCredentials(error);
        if (refused) throw refused;
      }
      const left = notAfter - Date.now();
      if (signal.aborted || left <= 0) throw failure;
      this.#log.debug("etcd read failed; retrying", { reason: errorText(failure) });
      await delay(Math.min(backoff, left), signal);
      if (signal.aborted) throw failure;
    }
  }

  // Reads the prefix, replaces the members with what it holds, and watches
  // from the next revision. The old watcher goes first, so that none of its
  // events can land after the read and undo part of it.
  async #resync(notAfter: number): Promise<void> {
    void this.#dropWatcher();
    const response = await this.#client.getAll().prefix(this.#prefix)
      .options({ deadline: callDeadline(this.#client, notAfter) }).exec();
    if (this.#stopping.signal.aborted) return;
    const registrations = new Map<string, Registration>();
    for (const kv of response.kvs) {
      const registration = this.#parse(kv);
      if (registration !== undefined) registrations.set(kv.key.toString(), registration);
    }
    this.#registrations = registrations;
    this.#publish();
    this.#watch(BigInt(response.header.revision) + 1n);
  }

  #watch(fromRevision: bigint): void {
    // watcher(), not create(): the listeners must be on before it attaches,
    // or events and a cancellation right after the creation could be lost
    // (and an 'error' without a listener throws).
    const watcher = this.#client.watch().prefix(this.#prefix)
      .startRevision(String(fromRevision)).watcher();
    this.#watcher = watcher;
    const current = (): boolean => watcher === this.#watcher;
    let disconnected = false;
    watcher.on("put", (kv) => current() && this.#put(kv));
    watcher.on("delete", (kv) => current() && this.#delete(kv));
    watcher.on("disconnected", (error) => {
      if (!current()) return;
      disconnected = true;
      this.#lost(error);
    });
    watcher.on("connected", () => {
      if (!current() || !disconnected) return;
      // It resumes where it stopped, but that revision may be compacted by
      // now, and a fresh read is cheap: read again rather than trust it.
      disconnected = false;
      this.#scheduleResync();
    });
    watcher.on("error", (error) => {
      if (!current()) return;
      this.#log.warn("etcd cancelled the watch; reading the members again", {
        reason: errorText(error),
      });
      // etcd3 has dropped it already; cancelling it would wait forever.
      this.#watcher = undefined;
      this.#scheduleResync();
    });
  }

  #scheduleResync(): void {
    if (this.#resyncing) {
      this.#resyncAgain = true;
      return;
    }
    this.#resyncing = this.#resyncUntilDone().finally(() => this.#resyncing = undefined);
  }

  async #resyncUntilDone(): Promise<void> {
    const signal = this.#stopping.signal;
    for (let backoff = MIN_BACKOFF_MS; !signal.aborted;) {
      this.#resyncAgain = false;
      try {
        await this.#resync(Infinity);
        this.#back();
        if (!this.#resyncAgain) return;
        continue;
      } catch (error) {
        this.#lost(error);
      }
      await delay(backoff, signal);
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    }
  }

  async #dropWatcher(): Promise<void> {
    const watcher = this.#watcher;
    this.#watcher = undefined;
    if (!watcher) return;
    // cancel() waits for etcd's answer, which a hung etcd never gives.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((resolve) => timer = setTimeout(resolve, CANCEL_TIMEOUT_MS));
    await Promise.race([watcher.cancel().catch(() => {}), timeout]);
    clearTimeout(timer);
  }

  #put(kv: IKeyValue): void {
    const key = kv.key.toString();
    const registration = this.#parse(kv);
    if (registration === undefined) this.#registrations.delete(key);
    else this.#registrations.set(key, registration);
    this.#publish();
  }

  #delete(kv: IKeyValue): void {
    this.#registrations.delete(kv.key.toString());
    this.#publish();
  }

  #parse(kv: IKeyValue): Registration | undefined {
    const value = kv.value.toString();
    try {
      const parsed = JSON.parse(value);
      const addr = parsed?.Addr;
      if (typeof addr === "string" && addr !== "") {
        const id = `${kv.lease}@${kv.create_revision}`;
        return { addr, id, goOriginal: "Op" in parsed };
      }
    } catch {
      // Reported below, like a value of the wrong shape.
    }
    this.#log.warn('Skipping an etcd value that is not {"Addr": "<addr>"}', {
      key: kv.key.toString(),
      value: value.length > 100 ? `${value.slice(0, 99)}…` : value,
    });
    return undefined;
  }

  // Swaps in a new member list and tells the listener, only when the set of
  // addresses or a member's registration changed: rewriting a known node's
  // key under the same lease changes nothing.
  #publish(): void {
    const ids = new Map<string, string>();
    for (const { addr, id } of this.#registrations.values()) ids.set(addr, id);
    const next = [...ids.keys()].sort();
    const previous = this.#members;
    const same = next.length === previous.length && next.every((addr, i) => addr === previous[i]);
    const reregistered = next.filter((addr) =>
      this.#ids.has(addr) && this.#ids.get(addr) !== ids.get(addr)
    );
    this.#ids = ids;
    if (same && reregistered.length === 0) return;
    if (!same) this.#members = Object.freeze(next);
    if (this.#state !== "running") return;
    this.#checkRing();
    for (const addr of reregistered) this.#log.debug("Member registered again", { addr });
    for (const addr of next) {
      if (!previous.includes(addr)) this.#log.info("Member joined", { addr });
    }
    for (const addr of previous) {
      if (!next.includes(addr)) this.#log.info("Member left", { addr });
    }
    try {
      this.#onChange?.(this.#members);
    } catch (error) {
      // A failing listener must not stop the discovery.
      this.#log.error("onChange listener threw", { reason: errorText(error) });
    }
  }

  // Once per process: the first member of the Go original seen while the
  // readers' ring is not the Go original's.
  #checkRing(): void {
    if (this.#seedRing || this.#warnedRing) return;
    const member = [...this.#registrations.values()].find((r) => r.goOriginal);
    if (member === undefined) return;
    this.#warnedRing = true;
    this.#log.warn(
      "A member registered as the Go original does, but keys are not placed as it places them: " +
        "a mixed cluster needs --ring seed on every mccache node and gateway",
      { addr: member.addr },
    );
  }

  #lost(error: unknown): void {
    // While starting, start() reports failures itself.
    if (this.#etcdLost || this.#state !== "running") return;
    this.#etcdLost = true;
    this.#log.warn("Lost the connection to etcd; members may be stale", {
      reason: errorText(error),
    });
  }

  #back(): void {
    if (!this.#etcdLost) return;
    this.#etcdLost = false;
    this.#log.info("Connected to etcd again; members read anew", { members: this.#members });
  }
}

// Resolves when the watcher is attached in etcd; rejects when etcd cancels it,
// on stop, or at `notAfter` with the last connection error if there was one.
function connected(
  watcher: Watcher | undefined,
  notAfter: number,
  signal: AbortSignal,
): Promise<void> {
  if (!watcher || signal.aborted) return Promise.reject(new Error("stopped"));
  return new Promise((resolve, reject) => {
    let lastError: unknown = new Error("the watch did not connect");
    const done = (error?: unknown): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      watcher.off("connected", onConnected).off("error", done).off("disconnected", onDisconnected);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onAbort = (): void => done(new Error("stopped"));
    const onConnected = (): void => done();
    const onDisconnected = (error: unknown): void => {
      lastError = error;
    };
    const timer = setTimeout(() => done(lastError), Math.max(0, notAfter - Date.now()));
    watcher.on("connected", onConnected).on("error", done).on("disconnected", onDisconnected);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
