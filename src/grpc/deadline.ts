/**
 * Deadlines that travel: an `AbortSignal` that knows when it fires, so that
 * a gRPC client can send it as the call's deadline and a server can turn the
 * deadline it received back into a signal.
 *
 * @module
 */

const deadlines = new WeakMap<AbortSignal, number>();

/**
 * Returns a signal that aborts with a `TimeoutError` after `ms`
 * milliseconds, or earlier if `parent` aborts. gRPC calls made with it carry
 * the deadline to the peer.
 *
 * @example Give a get 2 seconds
 * ```ts
 * import { deadlineOf, deadlineSignal } from "@mccache/core/grpc";
 * import assert from "node:assert/strict";
 *
 * const signal = deadlineSignal(2000);
 * assert.ok(deadlineOf(signal)! > Date.now());
 * ```
 */
export function deadlineSignal(ms: number, parent?: AbortSignal): AbortSignal {
  const deadline = Date.now() + ms;
  const parentDeadline = parent ? deadlineOf(parent) : undefined;
  const timeout = AbortSignal.timeout(Math.max(0, ms));
  const signal = parent ? AbortSignal.any([parent, timeout]) : timeout;
  deadlines.set(signal, Math.min(deadline, parentDeadline ?? Infinity));
  return signal;
}

/**
 * Returns when `signal` times out (milliseconds since the epoch), if it was
 * made by {@linkcode deadlineSignal}.
 *
 * @example A signal without a deadline has none
 * ```ts
 * import { deadlineOf } from "@mccache/core/grpc";
 * import assert from "node:assert/strict";
 *
 * assert.equal(deadlineOf(new AbortController().signal), undefined);
 * ```
 */
export function deadlineOf(signal: AbortSignal | undefined): number | undefined {
  return signal === undefined ? undefined : deadlines.get(signal);
}

/** A deadline signal whose timer can be cancelled once the work is done. */
export interface Deadline {
  /** Aborts with a `TimeoutError` when the deadline passes; carries it to gRPC calls. */
  readonly signal: AbortSignal;
  /** Stops the timer: call it when the work finished first, so nothing lingers. */
  clear(): void;
}

/**
 * Like {@linkcode deadlineSignal}, but the timer can be cleared: a server
 * handling thousands of short calls a second with multi-second deadlines
 * would otherwise keep that many timers (and signals) alive.
 *
 * @example A deadline that can be cleared
 * ```ts
 * import { deadline, deadlineOf } from "@mccache/core/grpc";
 * import assert from "node:assert/strict";
 *
 * const { signal, clear } = deadline(2000);
 * assert.ok(deadlineOf(signal)! > Date.now());
 * clear();
 * ```
 */
export function deadline(ms: number, parent?: AbortSignal): Deadline {
  const controller = new AbortController();
  const onParentAbort = () => controller.abort(parent!.reason);
  const timer = setTimeout(() => {
    parent?.removeEventListener("abort", onParentAbort);
    controller.abort(new DOMException(`Deadline of ${ms} ms passed`, "TimeoutError"));
  }, Math.max(0, ms));
  if (parent?.aborted) onParentAbort();
  else parent?.addEventListener("abort", onParentAbort, { once: true });
  const at = Math.min(Date.now() + ms, deadlineOf(parent) ?? Infinity);
  deadlines.set(controller.signal, at);
  return {
    signal: controller.signal,
    clear: () => {
      clearTimeout(timer);
      parent?.removeEventListener("abort", onParentAbort);
    },
  };
}
