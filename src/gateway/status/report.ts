/**
 * {@linkcode StatusCollector}: what the gateway's status page shows, as the
 * JSON of `GET /status.json` ({@linkcode StatusReport}). docs/METRICS.md
 * describes every field.
 *
 * @module
 */

import type { HashRing } from "../../hash_ring.ts";
import type { StatsResponse } from "../../grpc/messages.ts";
import type { UpstreamCallOptions, UpstreamValue } from "../upstream.ts";
import { RequestSeries, type SeriesSummary, type Totals } from "./_series.ts";
import { type GroupStatus, groupStatus } from "./_groups.ts";
import { lookUp, type LookupResult } from "./_lookup.ts";

export type { CacheStatus, GroupStatus } from "./_groups.ts";
export type { LookupResult } from "./_lookup.ts";
export type { SeriesPoint, SeriesSummary, Totals } from "./_series.ts";

/** What the collector reads from the gateway. */
export interface StatusSource {
  /** The ring the gateway routes by now. */
  readonly ring: HashRing;
  /** The protocol a member was found to speak, `undefined` until known. */
  protocolOf(member: string): string | undefined;
  /** Whether the gateway would send a member calls now (connected, not suspect). */
  healthy(member: string): boolean;
  /** Asks a member for its counters (the `Stats` call). */
  stats(member: string, timeoutMs: number): Promise<StatsResponse>;
  /** Gets a value through the gateway's upstream, for the key lookup. */
  get(group: string, key: string, options: UpstreamCallOptions): Promise<UpstreamValue>;
  /** The gateway's request totals so far (`GatewayMetrics.totals`). */
  totals(): Totals;
}

/** One member of the ring, as the gateway sees it. */
export interface MemberStatus {
  /** Its address, `host:port`, as the ring knows it. */
  addr: string;
  /** Whether it is connected and answering: the gateway sends it calls. */
  healthy: boolean;
  /** `mccache.v1`, `geecachepb` (the Go original), `none`, or `unknown` (not heard from yet). */
  protocol: string;
  /** Its share of the key space, 0 to 1; the shares of all members sum to 1. */
  ringShare: number;
  /** Whether it answered the `Stats` call of this report (never, for the Go original). */
  statsAnswered: boolean;
}

/** The whole of `GET /status.json`. */
export interface StatusReport {
  /** When the report was made, ISO 8601. */
  time: string;
  /** The gateway itself. */
  gateway: { addr: string; startedAt: string; tls: boolean; ring: string };
  /** The members, sorted by address. */
  members: MemberStatus[];
  /** Every group the members report, summed over them. */
  groups: GroupStatus[];
  /** The gateway's requests over the last minute. */
  requests: SeriesSummary;
  /** With `?group=&key=`: who owns the key and what it holds. */
  lookup?: LookupResult;
}

/** Options for {@linkcode StatusCollector}. */
export interface StatusCollectorOptions {
  /** The gateway's address, shown on the page. */
  addr: string;
  /** Whether calls to nodes use mutual TLS. @default {false} */
  tls?: boolean;
  /** The ring's placement, `default` or `seed`. @default {"default"} */
  ring?: string;
  /** How long a lookup may take, in milliseconds. @default {2000} */
  timeout?: number;
}

/**
 * Builds {@linkcode StatusReport}s: members with health, protocol and ring
 * share; the groups the nodes report through `Stats`; the gateway's
 * requests over the last minute (sampled each second from its metrics).
 *
 * @example Print each member's share of the ring
 * ```ts ignore
 * import { StatusCollector } from "@mccache/core/gateway";
 *
 * const collector = new StatusCollector(source, { addr: "127.0.0.1:9999" });
 * const report = await collector.report();
 * console.log(report.members.map((m) => `${m.addr} ${m.ringShare}`));
 * collector.close();
 * ```
 */
export class StatusCollector {
  #source: StatusSource;
  #options: StatusCollectorOptions;
  #series: RequestSeries;
  #startedAt = new Date().toISOString();
  #stats: { key: string; members: Promise<Map<string, StatsResponse>> } | undefined;

  /** Starts sampling the request totals each second. */
  constructor(source: StatusSource, options: StatusCollectorOptions) {
    this.#source = source;
    this.#options = options;
    this.#series = new RequestSeries(() => source.totals());
  }

  /** Builds a report; with `lookup`, it also looks up that key. */
  async report(lookup?: { group: string; key: string }): Promise<StatusReport> {
    const ring = this.#source.ring;
    const members = [...ring.members].sort();
    const [answered, looked] = await Promise.all([
      this.#nodeStats(members),
      lookup && lookUp(this.#source, lookup.group, lookup.key, this.#options.timeout ?? 2000),
    ]);
    const shares = ring.shares();
    const report: StatusReport = {
      time: new Date().toISOString(),
      gateway: {
        addr: this.#options.addr,
        startedAt: this.#startedAt,
        tls: this.#options.tls ?? false,
        ring: this.#options.ring ?? "default",
      },
      members: members.map((addr) => ({
        addr,
        healthy: this.#source.healthy(addr),
        protocol: this.#source.protocolOf(addr) ?? "unknown",
        ringShare: shares.get(addr) ?? 0,
        statsAnswered: answered.has(addr),
      })),
      groups: groupStatus([...answered.values()]),
      requests: this.#series.summary(),
    };
    if (looked) report.lookup = looked;
    return report;
  }

  /** Stops sampling. */
  close(): void {
    this.#series.close();
  }

  // The stats of the members that answered. Reports made while one is
  // being made share its calls: many viewers cost the nodes little.
  #nodeStats(members: string[]): Promise<Map<string, StatsResponse>> {
    const key = members.join(",");
    if (this.#stats?.key === key) return this.#stats.members;
    const asked = members.filter((member) => this.#source.protocolOf(member) !== "geecachepb")
      .map((member) =>
        this.#source.stats(member, 500).then((stats) => [member, stats] as const, () => undefined)
      );
    const all = Promise.all(asked).then((results) =>
      new Map(results.filter((result) => result !== undefined))
    );
    const stats = { key, members: all };
    this.#stats = stats;
    all.finally(() => {
      if (this.#stats === stats) this.#stats = undefined;
    });
    return all;
  }
}
