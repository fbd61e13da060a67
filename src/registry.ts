/**
 * {@linkcode GroupRegistry}: the groups a process serves, by name, and the
 * Go-original-style {@linkcode newGroup} / {@linkcode getGroup} on a default one.
 *
 * @module
 */

import { UnknownGroupError } from "./errors.ts";
import type { Getter } from "./getter.ts";
import { Group } from "./group.ts";
import type { PeerPicker } from "./peers.ts";

/**
 * The groups one server serves, by name. Servers take a registry rather than
 * reading a process-wide map, so tests and embedders can run several apart.
 *
 * @example Register groups and look them up
 * ```ts
 * import assert from "node:assert/strict";
 * import { Group, GroupRegistry } from "@mccache/core";
 *
 * const registry = new GroupRegistry();
 * new Group({ name: "a", maxBytes: 1 << 20, getter: (key) => key, registry });
 * assert(registry.get("a")?.name === "a");
 * assert(registry.names().join() === "a");
 * ```
 */
export class GroupRegistry {
  #groups = new Map<string, Group>();
  #peers: PeerPicker | undefined;

  /**
   * Adds `group`; throws if a group of that name is already registered.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Group, GroupRegistry } from "@mccache/core";
   *
   * const registry = new GroupRegistry();
   * registry.add(new Group({ name: "a", maxBytes: 0, getter: (key) => key }));
   * assert.throws(
   *   () => registry.add(new Group({ name: "a", maxBytes: 0, getter: (key) => key })),
   *   /already registered/,
   * );
   * ```
   */
  add(group: Group): Group {
    if (this.#groups.has(group.name)) {
      throw new Error(
        `Cannot add group ${
          JSON.stringify(group.name)
        }: a group with that name is already registered`,
      );
    }
    this.#groups.set(group.name, group);
    if (this.#peers !== undefined) group.registerPeers(this.#peers);
    return group;
  }

  /** Returns the group called `name`, or `undefined`. */
  get(name: string): Group | undefined {
    return this.#groups.get(name);
  }

  /**
   * Returns the group called `name`, or throws {@linkcode UnknownGroupError}.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { GroupRegistry, UnknownGroupError } from "@mccache/core";
   *
   * assert.throws(() => new GroupRegistry().mustGet("x"), UnknownGroupError);
   * ```
   */
  mustGet(name: string): Group {
    const group = this.#groups.get(name);
    if (group === undefined) throw new UnknownGroupError(name);
    return group;
  }

  /** Removes the group called `name`; returns whether it was there. */
  delete(name: string): boolean {
    return this.#groups.delete(name);
  }

  /** The names of the registered groups, in the order they were added. */
  names(): string[] {
    return [...this.#groups.keys()];
  }

  /** Iterates over the registered groups. */
  [Symbol.iterator](): IterableIterator<Group> {
    return this.#groups.values();
  }

  /**
   * Sets the peer picker of every group, now and added later. A node calls
   * it once it knows its cluster.
   *
   * @example
   * ```ts
   * import { Group, GroupRegistry, noPeers } from "@mccache/core";
   *
   * const registry = new GroupRegistry();
   * registry.registerPeers(noPeers);
   * new Group({ name: "later", maxBytes: 0, getter: (key) => key, registry });
   * ```
   */
  registerPeers(peers: PeerPicker): void {
    this.#peers = peers;
    for (const group of this.#groups.values()) group.registerPeers(peers);
  }
}

/** The registry behind {@linkcode newGroup} and {@linkcode getGroup}. */
export const defaultRegistry: GroupRegistry = new GroupRegistry();

/**
 * Creates a group in the {@linkcode defaultRegistry}, as the Go
 * original's `NewGroup(name, cacheBytes, getter)` does.
 *
 * @example The Go original's "scores" group
 * ```ts
 * import assert from "node:assert/strict";
 * import { getGroup, newGroup, NotFoundError } from "@mccache/core";
 *
 * const db: Record<string, string> = { Tom: "630", Jack: "589", Sam: "567" };
 * newGroup("scores-example", 2 << 10, (key) => {
 *   if (key in db) return db[key];
 *   throw new NotFoundError(`${key} not exist`);
 * });
 * assert((await getGroup("scores-example")!.get("Tom")).text() === "630");
 * ```
 */
export function newGroup(name: string, maxBytes: number, getter: Getter): Group {
  return new Group({ name, maxBytes, getter, registry: defaultRegistry });
}

/**
 * Returns the group called `name` from the {@linkcode defaultRegistry}, or
 * `undefined`, as the Go original's `GetGroup(name)` does.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getGroup } from "@mccache/core";
 *
 * assert(getGroup("no such group") === undefined);
 * ```
 */
export function getGroup(name: string): Group | undefined {
  return defaultRegistry.get(name);
}
