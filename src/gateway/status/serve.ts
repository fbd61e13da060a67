/**
 * {@linkcode serveStatus}: the gateway's status page (`GET /`), its script
 * (`GET /status.js`) and its data (`GET /status.json`).
 *
 * @module
 */

import type { StatusCollector } from "./report.ts";
import { PAGE_HTML } from "./_page_html.ts";
import { PAGE_SCRIPT } from "./_page_script.ts";

/**
 * The paths {@linkcode serveStatus} answers.
 *
 * @example The page, its script, its data
 * ```ts
 * import assert from "node:assert/strict";
 * import { STATUS_PATHS } from "./serve.ts";
 *
 * assert(STATUS_PATHS.has("/status.json"));
 * ```
 */
export const STATUS_PATHS: ReadonlySet<string> = new Set(["/", "/status.js", "/status.json"]);

// The page loads its own script and data, and nothing from anywhere else:
// the browser refuses whatever this does not allow.
const CSP = "default-src 'none'; script-src 'self'; connect-src 'self'; " +
  "style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; " +
  "frame-ancestors 'none'";

const PAGE_HEADERS = {
  "content-type": "text/html; charset=utf-8",
  "content-security-policy": CSP,
  "x-content-type-options": "nosniff",
  "cache-control": "no-cache",
};
const SCRIPT_HEADERS = {
  "content-type": "text/javascript; charset=utf-8",
  "x-content-type-options": "nosniff",
  "cache-control": "no-cache",
};

/**
 * Answers a GET or HEAD of one of {@linkcode STATUS_PATHS} (404 without a
 * `collector`, 405 for other methods). `route.query` is the request's query
 * string: `group=<group>&key=<key>` on `/status.json` adds a lookup of that
 * key, answered 401 unless `readAllowed(request)`.
 *
 * @example Answer /status.json
 * ```ts ignore
 * import { serveStatus } from "./serve.ts";
 *
 * const request = new Request("http://127.0.0.1:9999/status.json");
 * const response = await serveStatus(request, { path: "/status.json", query: "" }, collector, () => true);
 * console.log((await response.json()).members);
 * ```
 */
export function serveStatus(
  request: Request,
  route: { path: string; query: string },
  collector: StatusCollector | undefined,
  readAllowed: (request: Request) => boolean,
): Response | Promise<Response> {
  if (collector === undefined) return error(404, `Not found: ${route.path}`);
  if (request.method !== "GET" && request.method !== "HEAD") {
    return error(405, `Method ${request.method} not allowed`, { allow: "GET, HEAD" });
  }
  if (route.path === "/") return new Response(PAGE_HTML, { headers: PAGE_HEADERS });
  if (route.path === "/status.js") return new Response(PAGE_SCRIPT, { headers: SCRIPT_HEADERS });
  const params = new URLSearchParams(route.query);
  const group = params.get("group");
  const key = params.get("key");
  if ((group === null) !== (key === null)) return error(400, "A lookup needs both group and key");
  if (key !== null && !readAllowed(request)) {
    return error(401, "Missing or wrong bearer token", { "www-authenticate": "Bearer" });
  }
  const lookup = group !== null && key !== null ? { group, key } : undefined;
  return collector.report(lookup).then((report) =>
    Response.json(report, { headers: { "cache-control": "no-store" } })
  );
}

function error(status: number, message: string, headers?: HeadersInit): Response {
  return Response.json({ error: message }, { status, headers });
}
