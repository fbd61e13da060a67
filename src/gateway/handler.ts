/**
 * {@linkcode createGatewayHandler}: the gateway's HTTP API as a function
 * from a Web `Request` to a `Response`, so it runs under any server (and in
 * tests without one).
 *
 * @module
 */

import { errorStatus } from "../errors.ts";
import { LruCache } from "../lru.ts";
import { SingleFlight } from "../singleflight.ts";
import type { Upstream, UpstreamValue, WriteResult } from "./upstream.ts";
import { MAX_VALUE_BYTES } from "../limits.ts";
import type { GatewayMetrics } from "./metrics.ts";
import { parseDuration } from "../parse.ts";
import { utf8Length } from "../utf8.ts";
import { bearerCheck } from "./_auth.ts";
import { routeOf } from "./_route.ts";
import { HttpError, readBody } from "./_body.ts";
import type { StatusCollector } from "./status/report.ts";
import { serveStatus } from "./status/serve.ts";

/** Options for {@linkcode createGatewayHandler}. */
export interface GatewayHandlerOptions {
  /** The cluster. */
  upstream: Upstream;
  /** URL path prefix of the cache API. @default {"/mccache"} */
  prefix?: string;
  /** Deadline of each request, in milliseconds. @default {2000} */
  timeout?: number;
  /** Largest value a PUT may store, in bytes. @default {1048576} */
  maxValueBytes?: number;
  /**
   * How long a PUT's whole body may take to arrive, in milliseconds; a body
   * still incomplete then is answered 408 and its connection closed.
   * @default {10000}
   */
  bodyTimeout?: number;
  /**
   * How long the gateway may serve a hot key from its own memory, in
   * milliseconds; 0 turns the hot cache off. A PUT or DELETE through this
   * gateway drops the key at once; changes through other gateways are seen
   * after at most this long.
   * @default {0}
   */
  hotTtl?: number;
  /**
   * Budget of the hot cache in bytes. An entry counts its key, its value and
   * ~1 KiB for the Response that hits are answered with a clone of.
   * @default {33554432}
   */
  hotBytes?: number;
  /**
   * Add `X-Mccache-Node` (the node that answered, or `gateway`) and
   * `X-Mccache-Gateway-Cache` (`hot` or `miss`) to every value. Off by
   * default: any header besides Content-Type takes a response off
   * Deno.serve's fastest path, which costs the gateway ~10% of its CPU.
   * @default {false}
   */
  debugHeaders?: boolean;
  /**
   * A secret that PUT and DELETE must present as `Authorization: Bearer
   * <token>` (else 401); `undefined` leaves writes open.
   * @default {undefined}
   */
  token?: string;
  /** With `token`: GET and HEAD of values need it too. @default {false} */
  tokenReads?: boolean;
  /**
   * The nodes' `staleWhileRevalidate`, in milliseconds: values with a TTL
   * then carry `Cache-Control: max-age=<TTL left>, stale-while-revalidate=<this>`,
   * so that HTTP caches in front serve them past their TTL as the nodes do.
   * 0 sends no Cache-Control (and keeps answers on Deno.serve's fastest path).
   * @default {0}
   */
  staleWhileRevalidate?: number;
  /** Random source in [0, 1) for hot-cache admission. @default {Math.random} */
  random?: () => number;
  /** Counters to update; `/metrics` is served only when given. @default {undefined} */
  metrics?: GatewayMetrics;
  /** Reports whether the gateway can serve (`/healthz`). @default {() => upstream.serving} */
  healthy?: () => boolean;
  /**
   * What the status page (`GET /`) and `GET /status.json` show; both are
   * served only when given.
   * @default {undefined}
   */
  status?: StatusCollector;
}

function json(status: number, message: string, headers?: HeadersInit): Response {
  return Response.json({ error: message }, { status, headers });
}

/**
 * Returns the gateway's request handler:
 * - `GET|PUT|DELETE <prefix>/<group>/<key>` (the key percent-encoded; `PUT`
 *   takes `?ttl=` like `60s` or milliseconds),
 * - `GET <prefix>?group=<group>&key=<key>` (the Go original's form),
 * - `GET /healthz` and `GET /metrics`,
 * - with `status`: `GET /` (the status page) and `GET /status.json`
 *   (`?group=&key=` adds a lookup, which needs the token under `tokenReads`).
 *
 * Errors are `{"error": "..."}` with 400 (bad key, group or body), 404 (no
 * such group or key), 405, 408 (a PUT's body did not arrive within
 * `bodyTimeout`), 413 (value too large), 502 (the origin failed),
 * 503 (no node available) or 504 (deadline passed).
 *
 * @example Serve it
 * ```ts ignore
 * import { createGatewayHandler, GrpcUpstream } from "@mccache/core/gateway";
 *
 * const upstream = new GrpcUpstream({ members: ["127.0.0.1:8001"] });
 * Deno.serve({ port: 9999 }, createGatewayHandler({ upstream }));
 * ```
 */
export function createGatewayHandler(
  options: GatewayHandlerOptions,
): (request: Request) => Response | Promise<Response> {
  const prefix = (options.prefix ?? "/mccache").replace(/\/+$/, "");
  const timeout = options.timeout ?? 2000;
  const maxValueBytes = options.maxValueBytes ?? 1 << 20;
  if (!Number.isInteger(maxValueBytes) || maxValueBytes < 0 || maxValueBytes > MAX_VALUE_BYTES) {
    throw new RangeError(
      `Cannot create gateway handler: maxValueBytes must be an integer from 0 to ${MAX_VALUE_BYTES}: received ${maxValueBytes}`,
    );
  }
  const bodyTimeout = options.bodyTimeout ?? 10_000;
  if (!(bodyTimeout > 0)) {
    throw new RangeError(
      `Cannot create gateway handler: bodyTimeout must be positive: received ${bodyTimeout}`,
    );
  }
  const { upstream, metrics } = options;
  const healthy = options.healthy ?? (() => upstream.serving);
  const valueResponse = withCacheControl(
    options.debugHeaders ? debugValueResponse : plainValueResponse,
    options.staleWhileRevalidate ?? 0,
  );
  const hot = options.hotTtl
    ? new HotCache(valueResponse, options.hotTtl, options.hotBytes, options.random)
    : undefined;
  metrics?.watchHotCache(hot?.cache);
  const authorized = options.token === undefined ? undefined : bearerCheck(options.token);
  const tokenReads = options.tokenReads ?? false;
  // Node addresses in error bodies are for operators, shown with debugHeaders.
  const hidden = options.debugHeaders ? () => [] : () => upstream.members;
  const flight = new SingleFlight<Fetched>();
  // GETs that began before a PUT or DELETE through this gateway finished:
  // their (old) value is not kept in the hot cache.
  const stale = new WeakSet<Promise<Fetched>>();
  const written = (group: string, key: string) => {
    const id = flightId(group, key);
    hot?.drop(id);
    const before = flight.forget(id);
    if (before) stale.add(before);
  };

  const respond = (fetched: Fetched): Response => {
    // The first waiter's Response is cloned for the others; their callbacks
    // run before it is sent, but a clone of a sent body would throw.
    const first = fetched.response;
    if (first !== undefined && !first.bodyUsed) return first.clone();
    return fetched.response = valueResponse(fetched.result, "miss");
  };

  // Hot-cache hits are answered synchronously: Deno.serve's fastest path.
  const get = (group: string, key: string, deadline: number): Response | Promise<Response> => {
    const id = flightId(group, key);
    const fromHot = hot?.get(id);
    if (fromHot) return fromHot;
    // Identical concurrent requests share one upstream call (and its deadline).
    const loading = flight.do(id, () => upstream.get(group, key, { deadline }).then(toFetched));
    return loading.then((fetched) => {
      if (!stale.has(loading)) hot?.offer(id, fetched.result);
      return respond(fetched);
    }, failed);
  };

  const failed = (error: unknown): Response => {
    if (!(error instanceof HttpError)) metrics?.upstreamError(error);
    return errorResponse(error, timeout, hidden());
  };

  const put = async (
    group: string,
    key: string,
    request: Request,
    query: string,
    deadline: number,
  ) => {
    const ttlParam = new URLSearchParams(query).get("ttl");
    const ttl = ttlParam === null ? undefined : parseTtl(ttlParam);
    const value = await readBody(request, maxValueBytes, bodyTimeout);
    written(group, key);
    const stored = await upstream.set(group, key, value, ttl, { deadline });
    written(group, key);
    return writeResponse(stored, options.debugHeaders);
  };

  const remove = async (group: string, key: string, deadline: number) => {
    written(group, key);
    const removed = await upstream.remove(group, key, { deadline });
    written(group, key);
    return writeResponse(removed, options.debugHeaders);
  };

  // A lookup on the status page reads a value: it needs the token wherever a GET would.
  const readAllowed = (request: Request) => !authorized || !tokenReads || authorized(request);

  const serve = (request: Request): Response | Promise<Response> => {
    const route = routeOf(request, prefix);
    if (route.kind === "error") return json(route.status, route.message);
    if (route.kind === "healthz") {
      return healthy() ? new Response("ok\n") : json(503, "No cache node can serve");
    }
    if (route.kind === "metrics") {
      if (!metrics) return json(404, "Metrics are not enabled");
      const headers = { "content-type": metrics.contentType };
      return metrics.text().then((text) => new Response(text, { headers }));
    }
    if (route.kind === "status") return serveStatus(request, route, options.status, readAllowed);
    const { group, key } = route;
    const read = request.method === "GET" || request.method === "HEAD";
    if (authorized && (!read || tokenReads) && !authorized(request)) {
      return json(401, "Missing or wrong bearer token", { "www-authenticate": "Bearer" });
    }
    const deadline = Date.now() + timeout;
    switch (request.method) {
      case "GET":
      case "HEAD":
        return get(group, key, deadline);
      case "PUT":
        return put(group, key, request, route.query, deadline).catch(failed);
      case "DELETE":
        return remove(group, key, deadline).catch(failed);
    }
    return json(405, `Method ${request.method} not allowed`, { allow: "GET, HEAD, PUT, DELETE" });
  };

  return (request) => {
    const started = performance.now();
    const response = serve(request);
    if (!metrics) return response;
    if (response instanceof Response) {
      metrics.observe(request.method, response.status, performance.now() - started);
      return response;
    }
    return response.then((response) => {
      metrics.observe(request.method, response.status, performance.now() - started);
      return response;
    });
  };
}

const PLAIN_VALUE = { headers: { "content-type": "application/octet-stream" } };

// A value fetched for a GET, and the Response made for its first waiter,
// which the other waiters answer with clones of: a clone shares its bytes
// and headers, and costs ~1/7 of a new Response (0.12 vs 0.86 us,
// measured), which converts and copies them again.
interface Fetched {
  result: UpstreamValue;
  response: Response | undefined;
}

function toFetched(result: UpstreamValue): Fetched {
  return { result, response: undefined };
}

type ValueResponse = (result: UpstreamValue, cache: "hot" | "miss") => Response;

function plainValueResponse(result: UpstreamValue): Response {
  return new Response(result.value, PLAIN_VALUE);
}

function debugValueResponse(result: UpstreamValue, cache: "hot" | "miss"): Response {
  return new Response(result.value, {
    headers: {
      "content-type": "application/octet-stream",
      "x-mccache-node": result.node,
      "x-mccache-gateway-cache": cache,
    },
  });
}

// Adds Cache-Control to values with a TTL when the nodes serve them stale
// for a while: a stale value's TTL reads as 1 ms, so it says max-age=0.
function withCacheControl(respond: ValueResponse, staleWhileRevalidate: number): ValueResponse {
  if (!(staleWhileRevalidate >= 0) || !Number.isFinite(staleWhileRevalidate)) {
    throw new RangeError(
      `Cannot create gateway handler: staleWhileRevalidate must be a non-negative number of milliseconds: received ${staleWhileRevalidate}`,
    );
  }
  if (staleWhileRevalidate === 0) return respond;
  const swr = `, stale-while-revalidate=${Math.ceil(staleWhileRevalidate / 1000)}`;
  return (result, cache) => {
    const response = respond(result, cache);
    if (result.ttl !== undefined) {
      response.headers.set("cache-control", `max-age=${Math.floor(result.ttl / 1000)}${swr}`);
    }
    return response;
  };
}

// Says where a write was done: at the key's owner, or at the next member in
// its place (the member's address only with debugHeaders).
function writeResponse(result: WriteResult | void, debugHeaders = false): Response {
  if (!result) return new Response(null, { status: 204 });
  const headers: Record<string, string> = {
    "x-mccache-stored": result.failover ? "next" : "owner",
  };
  if (debugHeaders) headers["x-mccache-node"] = result.node;
  return new Response(null, { status: 204, headers });
}

function errorResponse(error: unknown, timeout: number, hidden: readonly string[]): Response {
  // The client still owes body bytes: this connection carries no more requests.
  if (error instanceof HttpError && error.status === 408) {
    return json(408, error.message, { connection: "close" });
  }
  if (error instanceof HttpError) return json(error.status, error.message);
  const status = errorStatus(error).http;
  if (status === 504) return json(504, `Deadline of ${timeout} ms passed`);
  if (status === 499) return json(499, "Client closed the request");
  let message = (error instanceof Error ? error.message : String(error)).split("\n")[0];
  for (const member of hidden) message = message.replaceAll(member, "a cache node");
  return json(status, message);
}

function parseTtl(value: string): number {
  try {
    // Whole milliseconds, rounded up: "0.5ms" must not mean "no expiry".
    const ttl = Math.ceil(parseDuration(value, "ttl"));
    if (ttl > 0 && ttl <= Number.MAX_SAFE_INTEGER) return ttl;
  } catch {
    // Reported below, as one message for every bad form.
  }
  throw new HttpError(
    400,
    `Invalid ttl "${value}": expected a positive duration, e.g. 60s or 500ms`,
  );
}

// One string per group/key pair, for the flights and the hot cache; the
// length prefix keeps ("a:b", "c") and ("a", "b:c") apart.
function flightId(group: string, key: string): string {
  return `${group.length}:${group}:${key}`;
}

// A hot value kept as a Response that is never sent: each hit answers with
// a clone of it (see Fetched). `length` is the value's; the entry also counts
// the Response's own memory, ~0.9 KB measured, most of a small value's entry.
class HotEntry {
  constructor(readonly length: number, readonly response: Response) {}
}

const HOT_ENTRY_OVERHEAD = 1024;

// Values of hot keys kept in the gateway for a bounded time. Like
// groupcache's hot cache, it admits 1 in 10 values fetched, so keys fetched
// often get in quickly while one-off keys rarely displace them.
class HotCache {
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
