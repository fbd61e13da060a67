// Open-loop load through a gateway for fault tests and the soak: requests go
// out at a fixed rate whether or not earlier ones were answered (a closed
// loop would slow down with the cluster and hide the failures), and every
// answer is checked against what the key may hold.

/** What a run of {@linkcode OpenLoop} saw. */
export interface LoadReport {
  sent: number;
  ok: number;
  /** Answers that were errors, by status ("fetch" when the request failed). */
  failed: Map<string, number>;
  /** Values a key could not hold: an older write than one already acknowledged, or garbage. */
  wrong: string[];
  /** Reads of a written key that found its origin value again (its owner restarted). */
  reverted: number;
  /** Milliseconds per request, sorted. */
  latencies: number[];
  /** The first few error answers, as `METHOD key: status body`. */
  samples: string[];
}

function emptyReport(): LoadReport {
  return { sent: 0, ok: 0, failed: new Map(), wrong: [], reverted: 0, latencies: [], samples: [] };
}

/** How to run an {@linkcode OpenLoop}. */
export interface LoadOptions {
  /** The gateway's base URL, e.g. `http://127.0.0.1:8080/cache/v`. */
  base: string;
  /** Requests per second. */
  rate: number;
  /** Keys that are only read; each must answer `originValue(key)`. */
  readKeys: readonly string[];
  /** Keys that are written (PUT of `key:seq`) as well as read. @default {[]} */
  writeKeys?: readonly string[];
  /** The share of requests to `writeKeys` that are PUTs. @default {0.5} */
  writeShare?: number;
  /** What the origin holds for a key. */
  originValue(key: string): string;
}

/** Sends GETs (and PUTs) at a fixed rate until stopped. */
export class OpenLoop {
  #options: LoadOptions;
  #report: LoadReport = emptyReport();
  #inflight = new Set<Promise<void>>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #seq = 0;
  // Per written key: the highest seq acknowledged so far.
  #acked = new Map<string, number>();
  // Requests answered so far (ok or not), and who waits for a count of them.
  #answered = 0;
  #waiting: { count: number; resolve(): void }[] = [];

  constructor(options: LoadOptions) {
    this.#options = options;
  }

  /** Starts sending; every 10 ms it sends what the rate owes by then. */
  start(): void {
    const started = performance.now();
    let due = 0;
    this.#timer = setInterval(() => {
      const owed = Math.floor(((performance.now() - started) / 1000) * this.#options.rate);
      for (; due < owed; due++) this.#track(this.#one(due));
    }, 10);
  }

  /** Stops sending, waits for the answers, and returns what was seen. */
  async stop(): Promise<LoadReport> {
    clearInterval(this.#timer);
    while (this.#inflight.size > 0) await Promise.all(this.#inflight);
    this.#report.latencies.sort((a, b) => a - b);
    return this.#report;
  }

  /** Takes the report so far and starts a new one (for phases of a run). */
  async phase(): Promise<LoadReport> {
    const report = this.#report;
    this.#report = emptyReport();
    // Only the requests of this phase: new ones keep coming.
    await Promise.all([...this.#inflight]);
    report.latencies.sort((a, b) => a - b);
    return report;
  }

  /** Resolves once `count` more requests have been answered (a phase's length as an event). */
  answered(count: number): Promise<void> {
    return new Promise((resolve) => this.#waiting.push({ count: this.#answered + count, resolve }));
  }

  #track(request: Promise<void>): void {
    this.#inflight.add(request);
    request.finally(() => {
      this.#inflight.delete(request);
      this.#answered++;
      this.#waiting = this.#waiting.filter((w) => w.count > this.#answered || (w.resolve(), false));
    });
  }

  async #one(n: number): Promise<void> {
    const { readKeys, writeKeys = [], writeShare = 0.5 } = this.#options;
    const all = readKeys.length + writeKeys.length;
    const index = n % all;
    const report = this.#report;
    report.sent++;
    const start = performance.now();
    if (index < readKeys.length) {
      await this.#read(readKeys[index], report, start, -1);
    } else {
      const key = writeKeys[index - readKeys.length];
      if (Math.random() < writeShare) await this.#write(key, report, start);
      else await this.#read(key, report, start, this.#acked.get(key) ?? -1);
    }
  }

  async #read(key: string, report: LoadReport, start: number, ackedBefore: number): Promise<void> {
    const answer = await this.#fetch("GET", key);
    if (answer === undefined) return this.#failed(report, "fetch");
    report.latencies.push(performance.now() - start);
    if (answer.status !== 200) {
      return this.#failed(report, String(answer.status), `GET ${key}`, answer.body);
    }
    report.ok++;
    const origin = this.#options.originValue(key);
    if (answer.body === origin) {
      if (ackedBefore >= 0) report.reverted++;
      return;
    }
    const seq = answer.body.startsWith(`${key}:`) ? Number(answer.body.slice(key.length + 1)) : NaN;
    if (!(seq >= ackedBefore)) report.wrong.push(`${key} = ${answer.body} after ${ackedBefore}`);
  }

  async #write(key: string, report: LoadReport, start: number): Promise<void> {
    const seq = this.#seq++;
    const answer = await this.#fetch("PUT", key, `${key}:${seq}`);
    if (answer === undefined) return this.#failed(report, "fetch");
    report.latencies.push(performance.now() - start);
    if (answer.status !== 204) {
      return this.#failed(report, String(answer.status), `PUT ${key}`, answer.body);
    }
    report.ok++;
    if (seq > (this.#acked.get(key) ?? -1)) this.#acked.set(key, seq);
  }

  #failed(report: LoadReport, why: string, what = "", body = ""): void {
    report.failed.set(why, (report.failed.get(why) ?? 0) + 1);
    if (report.samples.length < 5) report.samples.push(`${what}: ${why} ${body.trim()}`);
  }

  async #fetch(
    method: string,
    key: string,
    body?: string,
  ): Promise<{ status: number; body: string } | undefined> {
    try {
      const response = await fetch(`${this.#options.base}/${encodeURIComponent(key)}`, {
        method,
        body,
      });
      return { status: response.status, body: await response.text() };
    } catch {
      return undefined;
    }
  }
}

/** The number of failed requests in a report. */
export function failures(report: LoadReport): number {
  let sum = 0;
  for (const count of report.failed.values()) sum += count;
  return sum;
}

/** The `q` quantile (0..1) of a report's latencies, in milliseconds. */
export function quantile(report: LoadReport, q: number): number {
  const { latencies } = report;
  if (latencies.length === 0) return 0;
  return latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * q))];
}

/** A one-line summary of a report, for assertion messages and the soak. */
export function summary(report: LoadReport): string {
  const failed = [...report.failed].map(([why, n]) => `${why}: ${n}`).join(", ") || "none";
  return `${report.sent} sent, ${report.ok} ok, failed ${failed}, ${report.wrong.length} wrong, ` +
    `${report.reverted} reverted, p50 ${quantile(report, 0.5).toFixed(1)} ms, ` +
    `p99 ${quantile(report, 0.99).toFixed(1)} ms${report.samples.map((s) => `\n  ${s}`).join("")}`;
}
