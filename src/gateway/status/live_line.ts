/**
 * {@linkcode LiveLine}: one line of a gateway's figures since the last line,
 * as `deno task demo` prints every 5 s.
 *
 * @module
 */

import type { StatusReport } from "./report.ts";

/**
 * Turns successive status reports into lines such as
 * `12:00:05  38.2 req/s  hit ratio 91.3 %  members 3/3 healthy`; the rate
 * and the hit ratio are those since the previous report.
 *
 * @example A line every 5 s
 * ```ts ignore
 * import { LiveLine } from "@mccache/core/gateway";
 *
 * const live = new LiveLine();
 * setInterval(async () => console.log(live.next(await gateway.status())), 5000);
 * ```
 */
export class LiveLine {
  #last: { at: number; requests: number; gets: number; hits: number } | undefined;

  /** The line for `report`, against the one before. */
  next(report: StatusReport): string {
    const at = Date.parse(report.time);
    const requests = report.requests.total;
    const gets = report.groups.reduce((n, g) => n + g.gets, 0);
    const hits = report.groups.reduce((n, g) => n + g.cacheHits, 0);
    const last = this.#last;
    this.#last = { at, requests, gets, hits };
    const rps = last
      ? (requests - last.requests) / Math.max(0.001, (at - last.at) / 1000)
      : report.requests.perSecond;
    const newGets = gets - (last?.gets ?? 0);
    const ratio = newGets > 0
      ? `${(100 * (hits - (last?.hits ?? 0)) / newGets).toFixed(1)} %`
      : "-";
    const healthy = report.members.filter((m) => m.healthy).length;
    const time = new Date(at).toTimeString().slice(0, 8);
    return `${time}  ${
      rps.toFixed(1)
    } req/s  hit ratio ${ratio}  members ${healthy}/${report.members.length} healthy`;
  }
}
