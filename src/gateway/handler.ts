/**
 * {@linkcode createGatewayHandler}: the gateway's HTTP API as a function
 * from a Web `Request` to a `Response`, so it runs under any server (and in
 * tests without one).
 *
 * @module
 */

import { SingleFlight } from "../singleflight.ts";
import type { Upstream, WriteResult } from "./upstream.ts";
import { MAX_VALUE_BYTES } from "../limits.ts";
import type { GatewayMetrics } from "./metrics.ts";
import { parseDuration } from "../parse.ts";
import { HotCache } from "./_hot_cache.ts";
import { bearerCheck } from "./_auth.ts";
import { routeOf } from "./_route.ts";
import { HttpError, readBody } from "./_body.ts";
import type { StatusCollector } from "./status/report.ts";
import { serveStatus } from "./status/serve.ts";
import type { Route } from "./_route.ts";
import {
  answer,
  debugValueResponse,
  errorResponse,
  type Fetched,
  json,
  plainValueResponse,
  toFetched,
  type ValueResponse,
  withCacheControl,
} from "./_responses.ts";

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
  const api = new CacheApi(options);
  if (options.metrics) return observed(api, options.metrics);
  return (request) => api.serve(request);
}

// The handler behind createGatewayHandler. A request reads top to bottom as
// groupcache's Get does: serve() routes and checks the token, #get() tries
// the hot copy, then one upstream call per key at a time, then answers.
class CacheApi {
  readonly #prefix: string;
  readonly #timeout: number;
  readonly #maxValueBytes: number;
  readonly #bodyTimeout: number;
  readonly #upstream: Upstream;
  readonly #metrics: GatewayMetrics | undefined;
  readonly #healthy: () => boolean;
  readonly #status: StatusCollector | undefined;
  readonly #debugHeaders: boolean;
  readonly #valueResponse: ValueResponse;
  readonly #hot: HotCache | undefined;
  readonly #authorized: ((request: Request) => boolean) | undefined;
  readonly #tokenReads: boolean;
  readonly #flight = new SingleFlight<Fetched>();
  // GETs that began before a PUT or DELETE through this gateway finished:
  // their (old) value is not kept in the hot cache.
  readonly #stale = new WeakSet<Promise<Fetched>>();

  constructor(options: GatewayHandlerOptions) {
    const { upstream } = options;
    this.#prefix = (options.prefix ?? "/mccache").replace(/\/+$/, "");
    this.#timeout = options.timeout ?? 2000;
    this.#maxValueBytes = checkedMaxValueBytes(options.maxValueBytes ?? 1 << 20);
    this.#bodyTimeout = checkedBodyTimeout(options.bodyTimeout ?? 10_000);
    this.#upstream = upstream;
    this.#metrics = options.metrics;
    this.#healthy = options.healthy ?? (() => upstream.serving);
    this.#status = options.status;
    this.#debugHeaders = options.debugHeaders ?? false;
    this.#valueResponse = withCacheControl(
      options.debugHeaders ? debugValueResponse : plainValueResponse,
      options.staleWhileRevalidate ?? 0,
    );
    this.#hot = options.hotTtl
      ? new HotCache(this.#valueResponse, options.hotTtl, options.hotBytes, options.random)
      : undefined;
    this.#metrics?.watchHotCache(this.#hot?.cache);
    this.#authorized = options.token === undefined ? undefined : bearerCheck(options.token);
    this.#tokenReads = options.tokenReads ?? false;
  }

  serve(request: Request): Response | Promise<Response> {
    const route = routeOf(request, this.#prefix);
    if (route.kind !== "cache") return this.#serveOther(request, route);
    if (!this.#mayCall(request)) {
      return json(401, "Missing or wrong bearer token", { "www-authenticate": "Bearer" });
    }
    const { group, key } = route;
    const deadline = Date.now() + this.#timeout;
    switch (request.method) {
      case "GET":
      case "HEAD":
        return this.#get(group, key, deadline);
      case "PUT":
        return this.#put(group, key, request, route.query, deadline).catch(this.#failed);
      case "DELETE":
        return this.#remove(group, key, deadline).catch(this.#failed);
    }
    return json(405, `Method ${request.method} not allowed`, { allow: "GET, HEAD, PUT, DELETE" });
  }

  // With a token, writes need it; reads only with tokenReads.
  #mayCall(request: Request): boolean {
    const authorized = this.#authorized;
    if (!authorized) return true;
    const read = request.method === "GET" || request.method === "HEAD";
    return (read && !this.#tokenReads) || authorized(request);
  }

  // Hot-cache hits are answered synchronously: Deno.serve's fastest path.
  #get(group: string, key: string, deadline: number): Response | Promise<Response> {
    const id = flightId(group, key);
    const fromHot = this.#hot?.get(id);
    if (fromHot) return fromHot;
    // Identical concurrent requests share one upstream call (and its deadline).
    const loading = this.#flight.do(
      id,
      () => this.#upstream.get(group, key, { deadline }).then(toFetched),
    );
    return loading.then((fetched) => this.#fetched(id, loading, fetched), this.#failed);
  }

  #fetched(id: string, loading: Promise<Fetched>, fetched: Fetched): Response {
    if (!this.#stale.has(loading)) this.#hot?.offer(id, fetched.result);
    return answer(fetched, this.#valueResponse);
  }

  async #put(
    group: string,
    key: string,
    request: Request,
    query: string,
    deadline: number,
  ): Promise<Response> {
    const ttlParam = new URLSearchParams(query).get("ttl");
    const ttl = ttlParam === null ? undefined : parseTtl(ttlParam);
    const value = await readBody(request, this.#maxValueBytes, this.#bodyTimeout);
    this.#written(group, key);
    const stored = await this.#upstream.set(group, key, value, ttl, { deadline });
    this.#written(group, key);
    return writeResponse(stored, this.#debugHeaders);
  }

  async #remove(group: string, key: string, deadline: number): Promise<Response> {
    this.#written(group, key);
    const removed = await this.#upstream.remove(group, key, { deadline });
    this.#written(group, key);
    return writeResponse(removed, this.#debugHeaders);
  }

  // Before and after a write: the hot copy goes, and a GET in flight keeps
  // its (maybe old) value out of the hot cache.
  #written(group: string, key: string): void {
    const id = flightId(group, key);
    this.#hot?.drop(id);
    const before = this.#flight.forget(id);
    if (before) this.#stale.add(before);
  }

  #failed = (error: unknown): Response => {
    if (!(error instanceof HttpError)) this.#metrics?.upstreamError(error);
    // Node addresses in error bodies are for operators, shown with debugHeaders.
    return errorResponse(error, this.#timeout, this.#debugHeaders ? [] : this.#upstream.members);
  };

  #serveOther(
    request: Request,
    route: Exclude<Route, { kind: "cache" }>,
  ): Response | Promise<Response> {
    switch (route.kind) {
      case "error":
        return json(route.status, route.message);
      case "healthz":
        return this.#healthy() ? new Response("ok\n") : json(503, "No cache node can serve");
      case "metrics":
        return this.#serveMetrics();
      case "status":
        return serveStatus(request, route, this.#status, this.#readAllowed);
    }
  }

  #serveMetrics(): Response | Promise<Response> {
    const metrics = this.#metrics;
    if (!metrics) return json(404, "Metrics are not enabled");
    const headers = { "content-type": metrics.contentType };
    return metrics.text().then((text) => new Response(text, { headers }));
  }

  // A lookup on the status page reads a value: it needs the token wherever a GET would.
  #readAllowed = (request: Request): boolean =>
    !this.#authorized || !this.#tokenReads || this.#authorized(request);
}

// Counts each request by method and status, with its time to the Response.
function observed(
  api: CacheApi,
  metrics: GatewayMetrics,
): (request: Request) => Response | Promise<Response> {
  return (request) => {
    const started = performance.now();
    const response = api.serve(request);
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

function checkedMaxValueBytes(maxValueBytes: number): number {
  if (!Number.isInteger(maxValueBytes) || maxValueBytes < 0 || maxValueBytes > MAX_VALUE_BYTES) {
    throw new RangeError(
      `Cannot create gateway handler: maxValueBytes must be an integer from 0 to ${MAX_VALUE_BYTES}: received ${maxValueBytes}`,
    );
  }
  return maxValueBytes;
}

function checkedBodyTimeout(bodyTimeout: number): number {
  if (!(bodyTimeout > 0)) {
    throw new RangeError(
      `Cannot create gateway handler: bodyTimeout must be positive: received ${bodyTimeout}`,
    );
  }
  return bodyTimeout;
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
