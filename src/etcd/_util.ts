// Helpers shared by the registrar and the discovery; not exported from mod.ts.
import { isBrokenCircuitError } from "cockatiel";
import type { Watcher } from "etcd3";

/**
 * Resolves after `ms` milliseconds, or at once when `signal` aborts, leaving
 * no timer behind: the retry loops of the registrar and the discovery wait
 * with it so that `stop()` ends them at once.
 *
 * @example Wait unless stopped
 * ```ts
 * import { delay } from "./_util.ts";
 *
 * const stop = new AbortController();
 * const waiting = delay(60_000, stop.signal);
 * stop.abort();
 * await waiting;
 * ```
 */
export function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/**
 * The first line of an error's message, at most 200 characters, for one-line
 * log fields and error messages (grpc-js messages can be long). Not
 *
 * @example Shorten an error
 * ```ts
 * import assert from "node:assert/strict";
 * import { errorText } from "./_util.ts";
 *
 * assert.equal(errorText(new Error("refused\nstack...")), "refused");
 * ```
 */
export function errorText(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  // grpc-js ends some messages with an empty "Resolution note: ".
  const line = message.split("\n", 1)[0].replace(/[.\s]*Resolution note:\s*$/, "");
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
}

/**
 * Of two failures of one operation, the one that says more: a circuit
 * breaker's refusal ("Execution prevented because the circuit breaker is
 * open") says less than the failure that opened it.
 *
 * @example Keep the telling error
 * ```ts
 * import assert from "node:assert/strict";
 * import { BrokenCircuitError } from "cockatiel";
 * import { moreTelling } from "./_util.ts";
 *
 * const refused = new Error("connect ECONNREFUSED");
 * assert.equal(moreTelling(refused, new BrokenCircuitError()), refused);
 * ```
 */
export function moreTelling(previous: unknown, next: unknown): unknown {
  return isBrokenCircuitError(next) && previous !== undefined ? previous : next;
}

/**
 * What etcd's refusal of a client's credentials means, as an error that
 * retrying cannot mend (named `EtcdCredentialsError`), or `undefined` when
 * `error` is no such refusal. etcd answers a client without a user, when
 * authentication is on, with "user name is empty".
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { refusedCredentials } from "./_util.ts";
 *
 * const error = new Error("3 INVALID_ARGUMENT: etcdserver: user name is empty");
 * assert.match(refusedCredentials(error)!.message, /requires a user name and password/);
 * assert.equal(refusedCredentials(new Error("connect ECONNREFUSED")), undefined);
 * ```
 */
export function refusedCredentials(error: unknown): Error | undefined {
  const text = errorText(error);
  const why = /user name is empty/.test(text)
    ? "etcd requires a user name and password, and none was given"
    : /authentication failed|invalid user ID or password/.test(text)
    ? "etcd refused the user name or password"
    : /permission denied/.test(text)
    ? "etcd denied this user access to the key prefix"
    : undefined;
  if (why === undefined) return undefined;
  return Object.assign(new Error(why, { cause: error }), { name: "EtcdCredentialsError" });
}

/** The one-line reason a start failed: what etcd said, or that time ran out. */
export function startFailure(what: string, error: unknown, timeout: number): Error {
  const name = (error as { name?: unknown } | null)?.name;
  if (name === "EtcdCredentialsError") return new Error(`${what}: ${errorText(error)}`);
  return new Error(`${what} within ${timeout} ms: ${errorText(error)}`);
}

// Resolves when the watcher is attached in etcd; rejects when etcd cancels it,
// on stop, or at `notAfter` with the last connection error if there was one.
export function watchAttached(
  watcher: Watcher | undefined,
  notAfter: number,
  signal: AbortSignal,
): Promise<void> {
  if (!watcher || signal.aborted) return Promise.reject(new Error("stopped"));
  return new Promise((resolve, reject) => {
    let lastError: unknown = new Error("the watch did not connect");
    const done = (error?: unknown): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      watcher.off("connected", onConnected).off("error", done).off("disconnected", onDisconnected);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onAbort = (): void => done(new Error("stopped"));
    const onConnected = (): void => done();
    const onDisconnected = (error: unknown): void => {
      lastError = error;
    };
    const timer = setTimeout(() => done(lastError), Math.max(0, notAfter - Date.now()));
    watcher.on("connected", onConnected).on("error", done).on("disconnected", onDisconnected);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** Cancels `watcher`, waiting at most `timeoutMs`: cancel() waits for etcd's answer, which a hung etcd never gives. */
export async function cancelWatcher(watcher: Watcher, timeoutMs: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<void>((resolve) => timer = setTimeout(resolve, timeoutMs));
  await Promise.race([watcher.cancel().catch(() => {}), timeout]);
  clearTimeout(timer);
}

/** Throws the `TypeError` for a key prefix that is empty or ends with "/". */
export function checkPrefix(what: string, prefix: string): void {
  if (prefix !== "" && !prefix.endsWith("/")) return;
  throw new TypeError(
    `Cannot create ${what}: prefix must be non-empty without a trailing "/": received ${
      JSON.stringify(prefix)
    }`,
  );
}

/** Throws the `RangeError` for a start timeout that is not a positive number. */
export function checkTimeout(what: string, timeout: number): void {
  if (Number.isFinite(timeout) && timeout > 0) return;
  throw new RangeError(
    `Cannot start ${what}: timeout must be a positive number: received ${timeout}`,
  );
}
