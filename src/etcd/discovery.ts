/**
 * {@linkcode EtcdDiscovery}: the current set of cache nodes registered in
 * etcd, kept up to date by a watch.
 *
 * @module
 */

import type { Etcd3, IKeyValue, Watcher } from "etcd3";
import { parseRegistration, type Registration } from "./_registration.ts";
import { type Logger, silentLogger } from "../log/logger.ts";
import { describeEtcd, etcd3Of, type EtcdClient, etcdDeadline } from "./client.ts";
import { AbsenceGrace, type Reachability, tcpReachable } from "./_absence.ts";
import { probeEtcd } from "./_probe.ts";
import { watchPrefix } from "./_prefix_watch.ts";
import { logMemberChange, memberChange } from "./_member_change.ts";
import {
  cancelWatcher,
  checkPrefix,
  checkTimeout,
  delay,
  errorText,
  moreTelling,
  refusedCredentials,
  startFailure,
  watchAttached,
} from "./_util.ts";

export type { Reachability } from "./_absence.ts";

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
  /**
   * How long after etcd is reached again a member that etcd no longer lists
   * stays in the list, in milliseconds: the time the members need to notice
   * and register again when etcd came back empty. One lease TTL.
   * @default {5000}
   */
  graceMs?: number;
  /**
   * Asks whether a member that etcd stopped listing still answers; once the
   * grace period is over, only members that do not answer are dropped.
   * @default {a TCP connect to the member's address, within 1 s}
   */
  isReachable?: Reachability;
}

const MIN_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 1000;
const CANCEL_TIMEOUT_MS = 2000;
const CHECK_TIMEOUT_MS = 1000;
const RECHECK_MS = 1000;
const PROBE_MS = 1000;
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
 * process was cut off is never lost. But the list never shrinks because etcd
 * forgot (back with an empty data dir, etcd lists nobody until the members
 * register again; back from a freeze, it expires the leases it could not
 * renew): while etcd is lost (the watch broke, or a read it gets every second
 * failed) and for `graceMs` after the read that follows, a member that etcd
 * stops listing is kept; then it is dropped once it is also unreachable
 * (`isReachable`).
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
  #grace: AbsenceGrace;
  #probing: Promise<void> = Promise.resolve();

  /** Prepares the discovery; nothing happens before `start()`. */
  constructor(client: EtcdClient | Etcd3, options: EtcdDiscoveryOptions = {}) {
    const prefix = options.prefix ?? "mccache";
    checkPrefix("EtcdDiscovery", prefix);
    this.#client = etcd3Of(client);
    this.#prefix = `${prefix}/`;
    this.#log = options.logger ?? silentLogger;
    this.#onChange = options.onChange;
    this.#seedRing = options.seedRing ?? false;
    this.#grace = new AbsenceGrace({
      graceMs: options.graceMs ?? 5000,
      recheckMs: RECHECK_MS,
      checkTimeoutMs: CHECK_TIMEOUT_MS,
      isReachable: options.isReachable ?? tcpReachable,
      onDrop: () => this.#publish(),
      onHold: (members) =>
        this.#log.warn(
          "etcd lost members after an outage; keeping them while they register again",
          { members },
        ),
    });
  }

  /** The addresses of the registered nodes, sorted; a new array after each change. */
  get members(): readonly string[] {
    return this.#members;
  }

  /** Whether etcd is in reach: false from a lost watch or read until the members are read again. */
  get connected(): boolean {
    return this.#state === "running" && !this.#etcdLost;
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
    checkTimeout("EtcdDiscovery", timeout);
    this.#state = "starting";
    const starting = this.#startBefore(Date.now() + timeout);
    this.#resyncing = starting;
    try {
      await starting;
    } catch (error) {
      await this.#dropWatcher();
      if (this.#state === "starting") this.#state = "idle";
      const what = `Cannot discover members in ${describeEtcd(this.#client)}`;
      throw startFailure(what, error, timeout);
    } finally {
      this.#resyncing = undefined;
    }
    this.#run();
    return this.#members;
  }

  #run(): void {
    this.#state = "running";
    this.#probing = probeEtcd(this.#client, {
      key: this.#prefix,
      everyMs: PROBE_MS,
      timeoutMs: PROBE_MS,
      signal: this.#stopping.signal,
      onFailure: (error) => this.#lost(error),
      onRecovery: () => this.#scheduleResync(),
    });
    // The watch may have reconnected while starting: read again if it asked.
    if (this.#resyncAgain) this.#scheduleResync();
    this.#log.info("Discovered members in etcd", { prefix: this.#prefix, members: this.#members });
    this.#checkRing();
  }

  /** Stops watching; the member list keeps its last value. Idempotent. */
  async stop(): Promise<void> {
    this.#state = "stopped";
    this.#stopping.abort();
    this.#grace.stop();
    // A read in flight ends at its deadline and then watches no more.
    await this.#resyncing?.catch(() => {});
    await this.#probing;
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
        return await watchAttached(this.#watcher, notAfter, signal);
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
      .options({ deadline: etcdDeadline(this.#client, notAfter) }).exec();
    if (this.#stopping.signal.aborted) return;
    const registrations = new Map<string, Registration>();
    for (const kv of response.kvs) {
      const registration = parseRegistration(kv, this.#log);
      if (registration !== undefined) registrations.set(kv.key.toString(), registration);
    }
    this.#registrations = registrations;
    // Only a read after an outage may find etcd emptied, not the first one.
    if (this.#state === "running") this.#grace.reconnected();
    this.#publish();
    this.#watch(BigInt(response.header.revision) + 1n);
  }

  // A replaced watcher's events are ignored: they could undo part of the read that replaced it.
  #watch(fromRevision: bigint): void {
    const current = (): boolean => watcher === this.#watcher;
    const watcher = watchPrefix(this.#client, this.#prefix, fromRevision, {
      put: (kv) => current() && this.#put(kv),
      delete: (kv) => current() && this.#delete(kv),
      lost: (error) => current() && this.#lost(error),
      // It resumes where it stopped, but that revision may be compacted by
      // now, and a fresh read is cheap: read again rather than trust it.
      reconnected: () => current() && this.#scheduleResync(),
      cancelled: (error) => current() && this.#cancelled(error),
    });
    this.#watcher = watcher;
  }

  #cancelled(error: unknown): void {
    this.#log.warn("etcd cancelled the watch; reading the members again", {
      reason: errorText(error),
    });
    // etcd3 has dropped it already; cancelling it would wait forever.
    this.#watcher = undefined;
    this.#scheduleResync();
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
    if (watcher) await cancelWatcher(watcher, CANCEL_TIMEOUT_MS);
  }

  #put(kv: IKeyValue): void {
    const key = kv.key.toString();
    const registration = parseRegistration(kv, this.#log);
    if (registration === undefined) this.#registrations.delete(key);
    else this.#registrations.set(key, registration);
    this.#publish();
  }

  #delete(kv: IKeyValue): void {
    this.#registrations.delete(kv.key.toString());
    this.#publish();
  }

  // Swaps in a new member list and tells the listener, only when the set of
  // addresses or a member's registration changed: rewriting a known node's
  // key under the same lease changes nothing.
  #publish(): void {
    const ids = this.#idsToPublish();
    const change = memberChange(this.#members, this.#ids, ids);
    this.#ids = ids;
    if (change === undefined) return;
    if (!change.sameSet) this.#members = Object.freeze(change.members);
    if (this.#state !== "running") return;
    this.#checkRing();
    logMemberChange(this.#log, change);
    try {
      this.#onChange?.(this.#members);
    } catch (error) {
      // A failing listener must not stop the discovery.
      this.#log.error("onChange listener threw", { reason: errorText(error) });
    }
  }

  // Member → registration id: the registered members, and those kept
  // although etcd lost them.
  #idsToPublish(): Map<string, string> {
    const registered = new Map<string, string>();
    for (const { addr, id } of this.#registrations.values()) registered.set(addr, id);
    return this.#grace.keep(this.#ids, registered);
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
    this.#grace.lost();
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
