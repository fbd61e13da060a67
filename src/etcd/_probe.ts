// A small read of etcd every second, for the discovery. Not exported from mod.ts.
import type { Etcd3 } from "etcd3";
import { delay } from "./_util.ts";

/** Options for {@linkcode probeEtcd}. */
export interface ProbeOptions {
  /** The key read: one that costs etcd nothing to look up. */
  key: string;
  /** Milliseconds between the end of one read and the start of the next. */
  everyMs: number;
  /** Milliseconds after which a read that has not answered counts as failed. */
  timeoutMs: number;
  /** Ends the probing. */
  signal: AbortSignal;
  /** Called on every failed read. */
  onFailure(error: unknown): void;
  /** Called on the first read that answers after one or more failed. */
  onRecovery(): void;
}

/**
 * Reads `key` every `everyMs` until `signal` aborts. A watch on an etcd that
 * hangs with its connections open (frozen, or its disk stalled) stays up and
 * silent, and when etcd runs again it expires every lease it could not renew
 * at once; these reads notice such an outage, which the watch does not.
 *
 * @example Probe until stopped
 * ```ts ignore
 * const stop = new AbortController();
 * const probing = probeEtcd(client, {
 *   key: "mccache/", everyMs: 1000, timeoutMs: 1000, signal: stop.signal,
 *   onFailure: (error) => console.warn(error), onRecovery: () => console.info("back"),
 * });
 * stop.abort();
 * await probing;
 * ```
 */
export async function probeEtcd(client: Etcd3, options: ProbeOptions): Promise<void> {
  const { signal } = options;
  let failed = false;
  while (!signal.aborted) {
    await delay(options.everyMs, signal);
    if (signal.aborted) return;
    try {
      await client.get(options.key).options({ deadline: Date.now() + options.timeoutMs }).exec();
      if (failed) options.onRecovery();
      failed = false;
    } catch (error) {
      if (signal.aborted) return;
      failed = true;
      options.onFailure(error);
    }
  }
}
