// Where a gateway request goes: group and key from the request's path and
// query, as the HTTP server parsed them, never from its Host header.
import type { InvalidKeyError } from "../errors.ts";
import { validateKey } from "../key.ts";
import { STATUS_PATHS } from "./status/serve.ts";

export type Route =
  | { kind: "cache"; group: string; key: string; query: string }
  | { kind: "healthz" }
  | { kind: "metrics" }
  | { kind: "status"; path: string; query: string }
  | { kind: "error"; status: number; message: string };

const GROUP_NAME = /^[^/]{1,255}$/;
const DOT_SEGMENT = /(?:^|\/)(?:\.|%2e){1,2}(?:\/|$)/i;
// Deno.serve builds request.url from the Host header and the request's
// target: a Host with "/", "?" or "#" would move where the target seems to
// start, and so change the key (or the target of a PUT or DELETE).
const UNSAFE_HOST = /[/?#\\]/;

function error(status: number, message: string): Route {
  return { kind: "error", status, message };
}

/** Parses the route of `request` under the cache API's `prefix`. */
export function routeOf(request: Request, prefix: string): Route {
  const host = request.headers.get("host");
  if (host !== null && UNSAFE_HOST.test(host)) return error(400, "Invalid Host header");
  // Split the raw target by hand: new URL() per request is a measurable cost.
  // The authority holds no "/" now, so the target starts at the first one.
  const url = request.url;
  const start = url.indexOf("/", url.indexOf("//") + 2);
  const mark = url.indexOf("?", start);
  const path = mark < 0 ? url.slice(start) : url.slice(start, mark);
  const query = mark < 0 ? "" : url.slice(mark + 1);
  if (path === "/healthz" || path === "/metrics") {
    if (request.method !== "GET" && request.method !== "HEAD") {
      return error(405, `Method ${request.method} not allowed`);
    }
    return path === "/healthz" ? { kind: "healthz" } : { kind: "metrics" };
  }
  if (path === prefix || path === `${prefix}/`) return queryRoute(query);
  if (path.startsWith(`${prefix}/`)) return pathRoute(path.slice(prefix.length + 1), prefix, query);
  if (STATUS_PATHS.has(path)) return { kind: "status", path, query };
  return error(404, `Not found: ${path}`);
}

// The Go original's form: ?group=&key=
function queryRoute(query: string): Route {
  const params = new URLSearchParams(query);
  const group = params.get("group") ?? "";
  if (group === "") return error(400, "Missing group");
  return cacheRoute(group, params.get("key") ?? "", query);
}

// <prefix>/<group>/<key>, both percent-encoded; `rest` is what follows the prefix's "/".
function pathRoute(rest: string, prefix: string, query: string): Route {
  const slash = rest.indexOf("/");
  if (slash <= 0) return error(400, `Expected ${prefix}/<group>/<key>`);
  // Clients resolve "." and ".." segments before sending; one that did not
  // means something else than it says. The query form can carry such keys.
  if (DOT_SEGMENT.test(rest)) {
    return error(400, "Dot segments in the path: send such a key with ?group=&key=");
  }
  try {
    const group = decodeURIComponent(rest.slice(0, slash));
    return cacheRoute(group, decodeURIComponent(rest.slice(slash + 1)), query);
  } catch {
    return error(400, "Invalid percent-encoding in the path");
  }
}

function cacheRoute(group: string, key: string, query: string): Route {
  if (!GROUP_NAME.test(group)) {
    return error(400, "Invalid group: must be 1 to 255 characters without /");
  }
  try {
    validateKey(key);
  } catch (e) {
    return error(400, (e as InvalidKeyError).message);
  }
  return { kind: "cache", group, key, query };
}
