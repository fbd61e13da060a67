// The gateway's hot cache: values of hot keys kept in the gateway itself,
// answered without an upstream call. Private to the gateway's handler.
import { LruCache } from "../lru.ts";
import { utf8Length } from "../utf8.ts";
import type { UpstreamValue } from "./upstream.ts";
import type { ValueResponse } from "./_responses.ts";

// A hot value kept as a Response that is never sent: each hit answers with
// a clone of it (see Fetched in _responses.ts). `length` is the value's; the
// entry also counts the Response's own memory, ~0.9 KB measured, most of a
// small value's entry.
class HotEntry {
  constructor(readonly length: number, readonly response: Response) {}
}

const HOT_ENTRY_OVERHEAD = 1024;

// Values of hot keys kept in the gateway for a bounded time. Like
// groupcache's hot cache, it admits 1 in 10 values fetched, so keys fetched
// often get in quickly while one-off keys rarely displace them.
export class HotCache {
  readonly cache: LruCache<HotEntry>;
  #respond: ValueResponse;
  #ttl: number;
  #random: () => number;

  constructor(respond: ValueResponse, ttl: number, maxBytes = 32 << 20, random = Math.random) {
    this.cache = new LruCache<HotEntry>({
      maxBytes,
      sizeOf: (id, entry) => utf8Length(id) + entry.length + HOT_ENTRY_OVERHEAD,
    });
    this.#respond = respond;
    this.#ttl = ttl;
    this.#random = random;
  }

  get(id: string): Response | undefined {
    return this.cache.get(id)?.response.clone();
  }

  offer(id: string, result: UpstreamValue): void {
    if (this.#random() * 10 >= 1) return;
    const ttl = Math.min(this.#ttl, result.ttl ?? Infinity);
    const response = this.#respond({ ...result, node: "gateway" }, "hot");
    this.cache.add(id, new HotEntry(result.value.length, response), {
      expiresAt: Date.now() + ttl,
    });
  }

  drop(id: string): void {
    this.cache.remove(id);
  }
}
