/**
 * Where a node's groups come from: the Go original's example group, a user's
 * TypeScript module, or HTTP origins.
 *
 * @module
 */

import { Group } from "../group.ts";
import type { GroupRegistry } from "../registry.ts";
import { originGetter } from "./origin.ts";

/** What a groups module's default export receives. */
export interface DefineGroupsOptions {
  /** The budget from `--cache-bytes`, for groups that want the node's default. */
  cacheBytes: number;
  /** This node's address. */
  node: string;
}

/**
 * The default export of a `--groups` module: adds groups to `registry`.
 *
 * @example A groups module (`export default defineGroups;`)
 * ```ts
 * import { Group } from "@mccache/core";
 * import type { DefineGroups } from "@mccache/core/node";
 *
 * const defineGroups: DefineGroups = (registry, { cacheBytes }) => {
 *   new Group({ name: "squares", maxBytes: cacheBytes, getter: (key) => String(Number(key) ** 2), registry });
 * };
 * ```
 */
export type DefineGroups = (
  registry: GroupRegistry,
  options: DefineGroupsOptions,
) => void | Promise<void>;

/** Options for {@linkcode addOriginGroups}. */
export interface OriginGroupsOptions extends DefineGroupsOptions {
  /** The largest origin body read, in bytes (see `originGetter`). @default {1048576} */
  maxBodyBytes?: number;
  /** How long a too-large body fails again unfetched, in milliseconds. @default {5000} */
  negativeTtl?: number;
}

/**
 * Adds a read-through group per `name=url` spec (see `originGetter`).
 *
 * @example
 * ```ts
 * import { GroupRegistry } from "@mccache/core";
 * import { addOriginGroups } from "@mccache/core/node";
 *
 * const registry = new GroupRegistry();
 * addOriginGroups(registry, ["users=http://127.0.0.1:9000/users/{key}"], { cacheBytes: 1 << 20, node: "n1" });
 * ```
 */
export function addOriginGroups(
  registry: GroupRegistry,
  specs: readonly string[],
  options: OriginGroupsOptions,
): void {
  const { node, maxBodyBytes, negativeTtl } = options;
  for (const spec of specs) {
    const eq = spec.indexOf("=");
    if (eq <= 0) {
      throw new TypeError(`Invalid origin "${spec}": expected group=http://host/path/{key}`);
    }
    const getter = originGetter(spec.slice(eq + 1), { node, maxBodyBytes, negativeTtl });
    new Group({ name: spec.slice(0, eq), maxBytes: options.cacheBytes, getter, registry });
  }
}

/**
 * Imports the module at `url` and runs its default export (a
 * {@linkcode DefineGroups}). Throws a one-line error when it does not load or
 * has no such export.
 *
 * @example
 * ```ts ignore
 * import { GroupRegistry } from "@mccache/core";
 * import { loadGroupsModule } from "@mccache/core/node";
 *
 * await loadGroupsModule(new URL("./groups.ts", import.meta.url), new GroupRegistry(), {
 *   cacheBytes: 64 << 20,
 *   node: "127.0.0.1:8001",
 * });
 * ```
 */
export async function loadGroupsModule(
  url: URL,
  registry: GroupRegistry,
  options: DefineGroupsOptions,
): Promise<void> {
  let define: unknown;
  try {
    define = (await import(url.href)).default;
  } catch (error) {
    const why = error instanceof Error ? error.message.split("\n")[0] : String(error);
    throw new Error(`Cannot load groups from ${url.href}: ${why}`);
  }
  if (typeof define !== "function") {
    throw new Error(
      `Cannot load groups from ${url.href}: its default export must be a function (registry, options) => void`,
    );
  }
  try {
    await (define as DefineGroups)(registry, options);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new Error(`Cannot load groups from ${url.href}: ${why}`);
  }
}
