/**
 * {@linkcode serveStatus}: the gateway's status page (`GET /`), its script
 * (`GET /status.js`) and its data (`GET /status.json`).
 *
 * @module
 */

import type { StatusCollector } from "./report.ts";
import { PAGE_HTML } from "./_page_html.ts";
import { PAGE_SCRIPT } from "./_page_script.ts";

/** The paths {@linkcode serveStatus} answers. */
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
 * Answers one of {@linkcode STATUS_PATHS}; `query` is the request's query
 * string: `group=<group>&key=<key>` on `/status.json` adds a lookup of that
 * key. The caller checks the method (GET or HEAD).
 *
 * @example
 * ```ts ignore
 * import { serveStatus } from "./serve.ts";
 *
 * const response = await serveStatus(collector, "/status.json", "");
 * console.log((await response.json()).members);
 * ```
 */
export function serveStatus(
  collector: StatusCollector,
  path: string,
  query: string,
): Response | Promise<Response> {
  if (path === "/") return new Response(PAGE_HTML, { headers: PAGE_HEADERS });
  if (path === "/status.js") return new Response(PAGE_SCRIPT, { headers: SCRIPT_HEADERS });
  const params = new URLSearchParams(query);
  const group = params.get("group");
  const key = params.get("key");
  if ((group === null) !== (key === null)) {
    return Response.json({ error: "A lookup needs both group and key" }, { status: 400 });
  }
  const lookup = group !== null && key !== null ? { group, key } : undefined;
  return collector.report(lookup).then((report) =>
    Response.json(report, { headers: { "cache-control": "no-store" } })
  );
}
