/**
 * {@linkcode SingleFlight}: collapse concurrent calls for the same key into one.
 *
 * @module
 */

import { Table } from "./table.ts";

/** Options for {@linkcode SingleFlight.do}. */
export interface SingleFlightOptions {
  /**
   * Stops this caller's wait: its promise rejects with the signal's reason.
   * The shared call is aborted only once every caller waiting on it has
   * aborted, so one impatient caller never fails the others.
   * @default {undefined}
   */
  signal?: AbortSignal;
}

interface Flight<T> {
  promise: Promise<T>;
  controller: AbortController;
  waiters: number;
}

/**
 * Runs at most one call per key at a time: callers that arrive while a call
 * for their key is in flight share its result or its error. Nothing is kept
 * once the call settles, so errors are never cached.
 *
 * @example One load for many concurrent callers
 * ```ts
 * import assert from "node:assert/strict";
 * import { SingleFlight } from "@mccache/core";
 *
 * const flight = new SingleFlight<string>();
 * let calls = 0;
 * const load = async () => {
 *   calls++;
 *   await new Promise((resolve) => setTimeout(resolve, 1));
 *   return "value";
 * };
 * const results = await Promise.all([flight.do("k", load), flight.do("k", load)]);
 * assert(calls === 1 && results[1] === "value");
 * ```
 */
export class SingleFlight<T> {
  // Not a Map: a flight per gateway GET comes and goes (see table.ts).
  #flights = new Table<string, Flight<T>>();

  /** The number of calls in flight. */
  get size(): number {
    return this.#flights.size;
  }

  /**
   * Returns the result of `fn` for `key`, calling it only if no call for
   * `key` is in flight. `fn` receives a signal that aborts when every caller
   * has given up.
   */
  do(
    key: string,
    fn: (signal: AbortSignal) => Promise<T> | T,
    options?: SingleFlightOptions,
  ): Promise<T> {
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    let flight = this.#flights.get(key);
    if (flight === undefined) flight = this.#start(key, fn);
    flight.waiters++;
    return signal === undefined ? flight.promise : this.#wait(key, flight, signal);
  }

  /**
   * Detaches the call in flight for `key`, if any: its callers still get its
   * result, but later callers start a new call. Returns the detached call's
   * promise (the one callers without a signal hold).
   *
   * @example Make callers after a write not join a read that began before it
   * ```ts
   * import { SingleFlight } from "@mccache/core";
   * import assert from "node:assert/strict";
   *
   * const flight = new SingleFlight<string>();
   * const old = flight.do("k", () => new Promise((resolve) => setTimeout(() => resolve("old"), 5)));
   * assert.equal(flight.forget("k"), old);
   * assert.equal(await flight.do("k", () => "new"), "new");
   * assert.equal(await old, "old");
   * ```
   */
  forget(key: string): Promise<T> | undefined {
    const flight = this.#flights.get(key);
    this.#flights.delete(key);
    return flight?.promise;
  }

  /** Reports whether a call for `key` is in flight. */
  has(key: string): boolean {
    return this.#flights.has(key);
  }

  #start(key: string, fn: (signal: AbortSignal) => Promise<T> | T): Flight<T> {
    const controller = new AbortController();
    const flight: Flight<T> = {
      promise: undefined as unknown as Promise<T>,
      controller,
      waiters: 0,
    };
    this.#flights.set(key, flight);
    const settled = () => {
      if (this.#flights.get(key) === flight) this.#flights.delete(key);
    };
    // then() rather than an async function: this runs for every gateway GET
    // and cache miss, and an async frame costs several times the memory of a promise.
    // A synchronous throw becomes a rejection, shared and then dropped like any error.
    let result: Promise<T>;
    try {
      result = Promise.resolve(fn(controller.signal));
    } catch (error) {
      result = Promise.reject(error);
    }
    flight.promise = result.then((value) => {
      settled();
      return value;
    }, (error) => {
      settled();
      throw error;
    });
    return flight;
  }

  #wait(key: string, flight: Flight<T>, signal: AbortSignal): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        reject(signal.reason);
        if (--flight.waiters > 0) return;
        // Nobody waits any more: stop the work, and let the next caller start afresh.
        if (this.#flights.get(key) === flight) this.#flights.delete(key);
        flight.controller.abort(signal.reason);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      flight.promise.then(
        (value) => {
          signal.removeEventListener("abort", onAbort);
          resolve(value);
        },
        (error) => {
          signal.removeEventListener("abort", onAbort);
          reject(error);
        },
      );
    });
  }
}
