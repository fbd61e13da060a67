// The gateway's requests over the last minute, one point per second, made
// from the totals GatewayMetrics already keeps: the request path does no
// work for it. A timer reads the totals each second; each point is the
// difference between two readings.
import { LATENCY_BUCKETS } from "../metrics.ts";

/**
 * The gateway's request counts since it started, as `GatewayMetrics.totals()`
 * returns them; the status page's series reads them each second.
 */
export interface Totals {
  /** Requests answered since the gateway started. */
  requests: number;
  /** Of those, answered 5xx. */
  errors: number;
  /** Counts per latency bucket, not cumulative; the last is over the top bound. */
  buckets: number[];
}

/** One second of requests. */
export interface SeriesPoint {
  /** The end of the second, in milliseconds since the epoch. */
  at: number;
  /** Requests answered in that second. */
  requests: number;
  /** Of those, answered 5xx. */
  errors: number;
  /** Median latency in milliseconds; `null` without requests. */
  p50Ms: number | null;
  /** 99th percentile latency in milliseconds; `null` without requests. */
  p99Ms: number | null;
}

/** The minute as a whole. */
export interface SeriesSummary {
  /** Requests answered since the gateway started. */
  total: number;
  /** Seconds the figures below cover: up to 60, fewer just after the start. */
  windowSeconds: number;
  /** Requests answered in the window. */
  requests: number;
  /** Of those, answered 5xx. */
  errors: number;
  /** `requests / windowSeconds`. */
  perSecond: number;
  /** `errors / requests`; `null` without requests. */
  errorRate: number | null;
  /** Median latency over the window in milliseconds, from the histogram's buckets; `null` without requests. */
  p50Ms: number | null;
  /** 99th percentile latency over the window, likewise. */
  p99Ms: number | null;
  /** One point per second of the window, oldest first. */
  series: SeriesPoint[];
}

const WINDOW = 60;

export class RequestSeries {
  #read: () => Totals;
  #last: Totals;
  #points: (SeriesPoint & { buckets: number[] })[] = [];
  #timer: ReturnType<typeof setInterval>;

  constructor(read: () => Totals, periodMs = 1000) {
    this.#read = read;
    this.#last = read();
    this.#timer = setInterval(() => this.sample(), periodMs);
  }

  /** Takes a reading now (the timer calls it each second). */
  sample(): void {
    const now = this.#read();
    const buckets = now.buckets.map((n, i) => n - (this.#last.buckets[i] ?? 0));
    const requests = now.requests - this.#last.requests;
    this.#points.push({
      at: Date.now(),
      requests,
      errors: now.errors - this.#last.errors,
      p50Ms: quantileMs(buckets, requests, 0.5),
      p99Ms: quantileMs(buckets, requests, 0.99),
      buckets,
    });
    if (this.#points.length > WINDOW) this.#points.shift();
    this.#last = now;
  }

  /** The last minute: totals, rates, latency quantiles and the points. */
  summary(): SeriesSummary {
    const points = this.#points;
    const requests = points.reduce((n, p) => n + p.requests, 0);
    const errors = points.reduce((n, p) => n + p.errors, 0);
    const buckets = new Array<number>(LATENCY_BUCKETS.length + 1).fill(0);
    for (const point of points) point.buckets.forEach((n, i) => buckets[i] += n);
    const seconds = Math.max(1, points.length);
    return {
      total: this.#read().requests,
      windowSeconds: points.length,
      requests,
      errors,
      perSecond: requests / seconds,
      errorRate: requests === 0 ? null : errors / requests,
      p50Ms: quantileMs(buckets, requests, 0.5),
      p99Ms: quantileMs(buckets, requests, 0.99),
      series: points.map(({ buckets: _, ...point }) => point),
    };
  }

  close(): void {
    clearInterval(this.#timer);
  }
}

// The q-quantile of a histogram, interpolated within its bucket as
// Prometheus' histogram_quantile() does; past the top bound, the top bound.
export function quantileMs(buckets: number[], count: number, q: number): number | null {
  if (count <= 0) return null;
  const rank = q * count;
  let below = 0;
  for (let i = 0; i < buckets.length; i++) {
    if (below + buckets[i] >= rank && buckets[i] > 0) {
      if (i >= LATENCY_BUCKETS.length) return LATENCY_BUCKETS[i - 1] * 1000;
      const low = i === 0 ? 0 : LATENCY_BUCKETS[i - 1];
      const high = LATENCY_BUCKETS[i];
      return (low + (high - low) * (rank - below) / buckets[i]) * 1000;
    }
    below += buckets[i];
  }
  return LATENCY_BUCKETS[LATENCY_BUCKETS.length - 1] * 1000;
}
