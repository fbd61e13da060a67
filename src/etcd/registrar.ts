/**
 * {@linkcode EtcdRegistrar}: keeps a cache node registered in etcd, the way
 * the Go original does, for as long as the node runs.
 *
 * @module
 */

import { type Etcd3, EtcdLeaseInvalidError, type Lease } from "etcd3";
import { type Logger, silentLogger } from "../log/logger.ts";
import { describeEtcd, etcd3Of, type EtcdClient, etcdDeadline } from "./client.ts";
import {
  checkPrefix,
  checkTimeout,
  delay,
  errorText,
  moreTelling,
  refusedCredentials,
  startFailure,
} from "./_util.ts";

/** Options for {@linkcode EtcdRegistrar}. */
export interface EtcdRegistrarOptions {
  /** The key prefix; the node's key is `<prefix>/<addr>`. @default {"mccache"} */
  prefix?: string;
  /**
   * Seconds that the registration outlives the node when it dies without
   * `stop()`; readers see it leave after this long. The Go original uses 5.
   * @default {5}
   */
  leaseTtl?: number;
  /** Receives one line per lifecycle event (registered, lost, registered again). @default {silentLogger} */
  logger?: Logger;
  /** Called with the new value whenever {@linkcode EtcdRegistrar.registered} changes. @default {undefined} */
  onChange?: (registered: boolean) => void;
}

const MIN_BACKOFF_MS = 100;
// Bounds how long after etcd's return a node that lost its lease waits to
// register again.
const MAX_BACKOFF_MS = 500;
const REVOKE_TIMEOUT_MS = 2000;

/** A granted lease with the node's key under it. */
interface Registration {
  lease: Lease;
  id: string;
  /** Settles when etcd3 gives the lease up: revoked or expired in etcd, or unreachable for 2 TTLs. */
  lost: Promise<Error>;
}

/**
 * Registers a node's address in etcd under a lease that it keeps alive: the
 * key `<prefix>/<addr>` with the value `{"Addr":"<addr>"}`: etcd's
 * endpoints-manager JSON, as the Go original reads it (its own nodes write
 * `{"Op":0,"Addr":"<addr>","Metadata":null}`), so that its gateways find this
 * node too.
 *
 * When the lease is lost (etcd revoked or expired it, came back with an
 * empty data dir, or was out of reach for longer than two TTLs) it grants a
 * new one and writes the key again, retrying every 0.1 s to 0.5 s until
 * {@linkcode EtcdRegistrar.stop}, so the node is back within about a second
 * of etcd's return; a key that etcd lost while the lease lived on is written
 * again once the keepalive reconnects. `stop()`
 * revokes the lease, which removes the key at once: readers see the node
 * leave without waiting for the TTL.
 *
 * @example Register a node for as long as it serves
 * ```ts ignore
 * import { createEtcdClient, EtcdRegistrar } from "@mccache/core/etcd";
 *
 * const client = createEtcdClient({ endpoints: ["127.0.0.1:2379"] });
 * const registrar = new EtcdRegistrar(client, "127.0.0.1:8001");
 * await registrar.start({ timeout: 3000 });
 * // ... serve until asked to stop, then:
 * await registrar.stop();
 * client.close();
 * ```
 */
export class EtcdRegistrar {
  #client: Etcd3;
  #key: string;
  #value: string;
  #ttl: number;
  #log: Logger;
  #onChange?: (registered: boolean) => void;
  #state: "idle" | "starting" | "running" | "stopped" = "idle";
  #registered = false;
  #stopping = new AbortController();
  #stopped: Promise<void>;
  /** The start attempts or the keep-registered loop, whichever runs; `stop()` waits for it. */
  #work: Promise<unknown> = Promise.resolve();

  /** Prepares the registration of `addr` (`"host:port"`); nothing happens before `start()`. */
  constructor(client: EtcdClient | Etcd3, addr: string, options: EtcdRegistrarOptions = {}) {
    const prefix = options.prefix ?? "mccache";
    const ttl = options.leaseTtl ?? 5;
    if (addr === "" || /[\s/]/.test(addr)) {
      throw new TypeError(
        `Cannot create EtcdRegistrar: addr must be host:port: received ${JSON.stringify(addr)}`,
      );
    }
    checkPrefix("EtcdRegistrar", prefix);
    if (!Number.isInteger(ttl) || ttl < 1) {
      throw new RangeError(
        `Cannot create EtcdRegistrar: leaseTtl must be a positive integer: received ${ttl}`,
      );
    }
    this.#client = etcd3Of(client);
    this.#key = `${prefix}/${addr}`;
    this.#value = JSON.stringify({ Addr: addr });
    this.#ttl = ttl;
    this.#log = options.logger ?? silentLogger;
    this.#onChange = options.onChange;
    const signal = this.#stopping.signal;
    this.#stopped = new Promise((resolve) => signal.addEventListener("abort", () => resolve()));
  }

  /** The etcd key this node is registered under: `<prefix>/<addr>`. */
  get key(): string {
    return this.#key;
  }

  /**
   * Whether the key is in etcd as far as this process knows: true from the
   * first successful write until the lease is lost, and again once it is
   * written anew. It stays true while etcd is briefly unreachable, because
   * the lease outlives short outages.
   */
  get registered(): boolean {
    return this.#registered;
  }

  /**
   * Writes the key under a new lease and resolves once etcd has it, retrying
   * for up to `timeout` milliseconds; then keeps it registered until `stop()`.
   * Rejects with a one-line `Error` naming etcd and the last failure when the
   * time is up, and leaves nothing running (it may be called again).
   */
  async start({ timeout }: { timeout: number }): Promise<void> {
    if (this.#state !== "idle") {
      throw new Error(`Cannot start EtcdRegistrar for ${this.#key}: it is ${this.#state}`);
    }
    checkTimeout("EtcdRegistrar", timeout);
    this.#state = "starting";
    const registering = this.#registerBefore(Date.now() + timeout);
    this.#work = registering;
    try {
      await registering;
    } catch (error) {
      if (this.#state === "starting") this.#state = "idle";
      throw startFailure(`Cannot register in ${describeEtcd(this.#client)}`, error, timeout);
    }
  }

  /**
   * Stops keeping the registration alive and revokes the lease, which removes
   * the key at once (best effort, bounded by about 2 s; if etcd is out of
   * reach the key expires with the lease TTL instead). Idempotent.
   */
  async stop(): Promise<void> {
    if (this.#state !== "stopped") {
      this.#state = "stopped";
      this.#stopping.abort();
    }
    // Pending calls end at their deadlines; the loops revoke what they hold.
    // The start attempts hand over to the keep-registered loop, so wait for
    // whichever runs after the one awaited.
    let work: Promise<unknown>;
    do {
      work = this.#work;
      await work.catch(() => {});
    } while (work !== this.#work);
    this.#setRegistered(false);
  }

  // The first registration: retried with backoff until `notAfter`, each call
  // bounded by it too, so that nothing is left in flight after a rejection.
  async #registerBefore(notAfter: number): Promise<void> {
    const signal = this.#stopping.signal;
    let failure: unknown;
    for (let backoff = MIN_BACKOFF_MS;; backoff = Math.min(backoff * 2, MAX_BACKOFF_MS)) {
      try {
        const registration = await this.#register(notAfter);
        // Hand over in the same step as the check, so that a stop() cannot
        // slip in between and miss the lease.
        if (!signal.aborted) return this.#run(registration);
        await this.#revoke(registration);
        throw new Error("stopped before the registration completed");
      } catch (error) {
        failure = moreTelling(failure, error);
        // Retrying the same credentials cannot succeed.
        const refused = refusedCredentials(error);
        if (refused) throw refused;
      }
      const left = notAfter - Date.now();
      if (signal.aborted || left <= 0) throw failure;
      this.#log.debug("etcd registration failed; retrying", {
        key: this.#key,
        reason: errorText(failure),
      });
      await delay(Math.min(backoff, left), signal);
      if (signal.aborted) throw failure;
    }
  }

  #run(first: Registration): void {
    this.#state = "running";
    this.#work = this.#keepRegistered(first);
    this.#log.info("Registered in etcd", { key: this.#key, lease: first.id });
    this.#setRegistered(true);
  }

  async #register(notAfter: number): Promise<Registration> {
    const lease = this.#client.lease(this.#ttl, { deadline: etcdDeadline(this.#client, notAfter) });
    const lost = new Promise<Error>((resolve) => lease.once("lost", resolve));
    try {
      const id = await lease.grant();
      await lease.put(this.#key).value(this.#value)
        .options({ deadline: etcdDeadline(this.#client, notAfter) });
      const registration = { lease, id, lost };
      this.#checkAfterReconnects(registration);
      return registration;
    } catch (error) {
      // Stops the keepalives; a granted lease without the key just expires.
      lease.release();
      throw error;
    }
  }

  async #keepRegistered(first: Registration): Promise<void> {
    let current: Registration | undefined = first;
    while (current) {
      const reason = await Promise.race([current.lost, this.#stopped]);
      if (this.#stopping.signal.aborted) break;
      this.#log.warn("Lost the etcd registration; registering again", {
        key: this.#key,
        lease: current.id,
        reason: lossReason(reason),
      });
      this.#setRegistered(false);
      const lostAt = Date.now();
      current = await this.#registerAgain();
      if (current && !this.#stopping.signal.aborted) {
        this.#log.info("Registered in etcd again", {
          key: this.#key,
          lease: current.id,
          ms: Date.now() - lostAt,
        });
        this.#setRegistered(true);
      }
    }
    if (current) await this.#revoke(current);
  }

  // Returns undefined once stopped; a registration that completes while
  // stopping is returned anyway, so that the caller revokes it.
  async #registerAgain(): Promise<Registration | undefined> {
    const signal = this.#stopping.signal;
    for (
      let backoff = MIN_BACKOFF_MS;
      !signal.aborted;
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS)
    ) {
      try {
        return await this.#register(Infinity);
      } catch (error) {
        this.#log.debug("etcd registration failed; retrying", {
          key: this.#key,
          reason: errorText(error),
        });
      }
      await delay(backoff, signal);
    }
    return undefined;
  }

  // etcd can come back without the key while the lease lives on (restored
  // from an older snapshot, or the key deleted meanwhile), and no keepalive
  // would tell: look for it at the first keepalive answer after a failure.
  // (etcd back empty loses the lease too, which that answer tells.)
  #checkAfterReconnects(registration: Registration): void {
    let failed = false;
    const { lease } = registration;
    lease.on("keepaliveFailed", (error) => {
      // Once per outage: etcd3 retries every 0.1 s.
      if (!failed) {
        this.#log.debug("etcd keepalive failed; retrying", {
          key: this.#key,
          reason: errorText(error),
        });
      }
      failed = true;
    });
    lease.on("keepaliveSucceeded", () => {
      if (!failed || this.#stopping.signal.aborted) return;
      failed = false;
      this.#putIfMissing(registration).catch((error) => {
        // A lease that is gone reports "lost" itself, and the loop registers again.
        this.#log.debug("Could not check the etcd key", {
          key: this.#key,
          reason: errorText(error),
        });
      });
    });
  }

  async #putIfMissing({ lease, id }: Registration): Promise<void> {
    const deadline = etcdDeadline(this.#client, Infinity);
    const kv = (await this.#client.get(this.#key).options({ deadline }).exec()).kvs[0];
    if (kv !== undefined && kv.lease === id && kv.value.toString() === this.#value) return;
    if (lease.revoked()) return;
    await lease.put(this.#key).value(this.#value).options({ deadline });
    this.#log.info("Wrote the etcd key again: etcd had lost it", { key: this.#key, lease: id });
  }

  async #revoke({ lease, id }: Registration): Promise<void> {
    try {
      await lease.revoke({ deadline: etcdDeadline(this.#client, Date.now() + REVOKE_TIMEOUT_MS) });
      this.#log.info("Deregistered from etcd", { key: this.#key, lease: id });
    } catch (error) {
      this.#log.warn("Could not revoke the etcd lease; the key expires with it", {
        key: this.#key,
        lease: id,
        reason: errorText(error),
      });
    }
  }

  #setRegistered(registered: boolean): void {
    if (this.#registered === registered) return;
    this.#registered = registered;
    try {
      this.#onChange?.(registered);
    } catch (error) {
      // A failing listener must not end the loop that keeps the node registered.
      this.#log.error("onChange listener threw", { reason: errorText(error) });
    }
  }
}

// etcd3 words lease loss oddly ("Lease We lost connection to etcd and our
// lease has expired. is expired or revoked"): say which case it was.
function lossReason(error: unknown): string {
  if (!(error instanceof EtcdLeaseInvalidError)) return errorText(error);
  return /lost connection/.test(error.message)
    ? "etcd was out of reach for two lease TTLs"
    : "etcd expired or revoked the lease";
}
