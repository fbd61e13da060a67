// How a group fills its caches: loads from the owner or the getter, once
// per key however many callers wait (singleflight), remembered misses, and
// values served stale while one load refreshes them. Private to group.ts,
// which keeps the public API and the hit path.
import { ByteView } from "./byte_view.ts";
import { NotFoundError } from "./errors.ts";
import { validateKey } from "./key.ts";
import type { Cached, Caches } from "./_caches.ts";
import type { PeerGetter, PeerPicker } from "./peers.ts";
import { SingleFlight } from "./singleflight.ts";
import { Table } from "./table.ts";
import type { GroupStats } from "./stats.ts";
import { type Freshness, type GetterFunc, toCached } from "./getter.ts";
import type { LoadObserver } from "./group.ts";

/** What a {@linkcode Loader} works with: the group's parts, shared with it. */
export interface LoaderParts {
  name: string;
  getter: GetterFunc;
  peers: () => PeerPicker;
  caches: Caches;
  stats: GroupStats;
  freshness: Freshness;
  notFoundTtl: number;
  random: () => number;
  now: () => number;
  /** Told of each getter call and peer fetch (see `Group.observeLoads`). */
  observe: () => LoadObserver | undefined;
}

/** Options of a load: a caller's signal, and whether to stay on this node. */
export interface LoadOptions {
  signal?: AbortSignal;
  local?: boolean;
}

export class Loader {
  #name: string;
  #getter: GetterFunc;
  #peers: () => PeerPicker;
  #caches: Caches;
  #stats: GroupStats;
  #freshness: Freshness;
  #notFoundTtl: number;
  #random: () => number;
  #now: () => number;
  #observe: () => LoadObserver | undefined;
  // Local loads and peer fetches dedupe separately: a request from a peer
  // must never wait on a fetch that went back out to a peer, or two nodes
  // whose rings disagree would wait on each other until the deadline.
  #localFlight = new SingleFlight<Cached>();
  #peerFlight = new SingleFlight<Cached>();
  // The loads in flight per key. set and remove mark them stale: a load
  // that began before a write keeps its result out of the cache, so it
  // cannot put back the value the write replaced. Per key, so that writes to
  // other keys cost nothing.
  #loading = new Table<string, Set<{ stale: boolean }>>();

  constructor(parts: LoaderParts) {
    this.#name = parts.name;
    this.#getter = parts.getter;
    this.#peers = parts.peers;
    this.#caches = parts.caches;
    this.#stats = parts.stats;
    this.#freshness = parts.freshness;
    this.#notFoundTtl = parts.notFoundTtl;
    this.#random = parts.random;
    this.#now = parts.now;
    this.#observe = parts.observe;
  }

  isFresh(cached: Cached): boolean {
    return cached.expiresAt === 0 || this.#now() < cached.expiresAt;
  }

  // A hit on an entry that is not a plain value: a remembered miss, or a
  // value that may be past its TTL but within a stale window.
  answer(key: string, cached: Cached, options: LoadOptions | undefined): Promise<Cached> {
    if (this.isFresh(cached)) {
      this.#stats.cacheHits++;
      return cached.missing ? Promise.reject(notFound(cached)) : Promise.resolve(cached);
    }
    const staleFor = this.#now() - cached.expiresAt;
    if (staleFor < (cached.staleWhileRevalidate ?? 0)) {
      this.#stats.cacheHits++;
      this.#stats.staleServed++;
      this.#refresh(key);
      return Promise.resolve(cached);
    }
    return this.miss(key, options).catch((error) => {
      if (error instanceof NotFoundError || options?.signal?.aborted) throw error;
      if (this.#now() - cached.expiresAt >= (cached.staleIfError ?? 0)) throw error;
      this.#stats.staleServed++;
      return cached;
    });
  }

  // One background load per key: callers meanwhile get the stale value.
  #refresh(key: string): void {
    if (this.#localFlight.has(key)) return;
    this.#stats.refreshes++;
    this.#stats.loads++;
    this.#localFlight.do(key, (s) => this.#loadLocally(key, s)).catch(() => {
      // Counted in localLoadErrs; the stale value stays until its window ends.
    });
  }

  miss(key: string, options: LoadOptions | undefined): Promise<Cached> {
    try {
      validateKey(key);
    } catch (error) {
      return Promise.reject(error);
    }
    this.#stats.loads++;
    const signal = options?.signal;
    const peer = options?.local ? undefined : this.#peers().pickPeer(key);
    if (peer === undefined) {
      this.#caches.main.record(key);
      return this.#localFlight.do(key, (s) => this.#loadLocally(key, s), { signal });
    }
    return this.#peerFlight.do(key, (s) => this.#loadFromPeer(peer, key, s), { signal });
  }

  // A fresh entry that a flight which just finished may have put in the
  // cache while this one waited to start.
  #justLoaded(key: string): Cached | undefined {
    const cached = this.#caches.lookup(key)?.cached;
    if (cached === undefined || !this.isFresh(cached)) return undefined;
    if (cached.missing) throw notFound(cached);
    return cached;
  }

  async #loadFromPeer(peer: PeerGetter, key: string, signal: AbortSignal): Promise<Cached> {
    const cached = this.#justLoaded(key);
    if (cached !== undefined) return cached;
    this.#stats.loadsDeduped++;
    const load = this.#startLoad(key);
    const observe = this.#observe();
    const started = observe ? performance.now() : 0;
    try {
      const { value, ttl } = await peer.get({ group: this.#name, key }, { signal });
      observe?.("peer", performance.now() - started, "value");
      this.#stats.peerLoads++;
      const loaded = { view: ByteView.adopt(value), expiresAt: this.#expiresAt(ttl) };
      // groupcache's rule: keep 1 in 10 peer values, so keys hot enough to be
      // fetched often end up here while a scan of cold keys does not flush it.
      if (!load.stale && this.#random() * 10 < 1) this.#caches.add(key, loaded, "hot");
      return loaded;
    } catch (error) {
      observe?.("peer", performance.now() - started, outcomeOf(error));
      if (error instanceof NotFoundError || signal.aborted) throw error;
      this.#stats.peerErrors++;
    } finally {
      this.#endLoad(key, load);
    }
    return this.#localFlight.do(key, (s) => this.#loadLocally(key, s), { signal });
  }

  async #loadLocally(key: string, signal: AbortSignal): Promise<Cached> {
    const cached = this.#justLoaded(key);
    if (cached !== undefined) return cached;
    this.#stats.loadsDeduped++;
    const load = this.#startLoad(key);
    let loaded: Cached;
    const observe = this.#observe();
    const started = observe ? performance.now() : 0;
    try {
      const where = `${JSON.stringify(key)} in group ${this.#name}`;
      loaded = toCached(await this.#getter(key, { signal }), this.#freshness, this.#now(), where);
      observe?.("getter", performance.now() - started, "value");
    } catch (error) {
      observe?.("getter", performance.now() - started, outcomeOf(error));
      this.#stats.localLoadErrs++;
      // The key is gone: no stale copy of it may be served any more.
      if (error instanceof NotFoundError && !load.stale) {
        if (this.#notFoundTtl > 0) this.#caches.add(key, this.#missing(error), "main");
        else this.#caches.remove(key);
      }
      throw error;
    } finally {
      this.#endLoad(key, load);
    }
    this.#stats.localLoads++;
    if (!load.stale) this.#caches.add(key, loaded, "main");
    return loaded;
  }

  // Remembers a NotFoundError so that the owner answers the key's next gets
  // itself, sparing the source of truth the ones it has just answered.
  #missing(error: NotFoundError): Cached {
    const view = ByteView.from(error.message);
    return { view, expiresAt: this.#now() + this.#notFoundTtl, missing: true };
  }

  #startLoad(key: string): { stale: boolean } {
    const load = { stale: false };
    let loads = this.#loading.get(key);
    if (loads === undefined) this.#loading.set(key, loads = new Set());
    loads.add(load);
    return load;
  }

  #endLoad(key: string, load: { stale: boolean }): void {
    const loads = this.#loading.get(key)!;
    loads.delete(load);
    if (loads.size === 0) this.#loading.delete(key);
  }

  // Drops this node's copies of `key` and keeps loads in flight from putting one back.
  drop(key: string): void {
    this.#caches.remove(key);
    for (const load of this.#loading.get(key) ?? []) load.stale = true;
  }

  #expiresAt(ttl: number | undefined): number {
    return ttl === undefined ? 0 : this.#now() + ttl;
  }
}

function notFound(cached: Cached): NotFoundError {
  return new NotFoundError(cached.view.text());
}

function outcomeOf(error: unknown): "not_found" | "error" {
  return error instanceof NotFoundError ? "not_found" : "error";
}
