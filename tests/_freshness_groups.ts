// The groups of tests/freshness_cluster_test.ts, which writes a --groups
// module calling freshnessGroups with its origin's URL: one group that reads
// through to the origin, remembering its 404s for 3 s and taking TTLs and
// stale windows from its Cache-Control.
import { Group } from "../mod.ts";
import { type DefineGroups, originGetter } from "../src/node/mod.ts";

/** How long the nodes remember that the origin had no such key. */
export const NOT_FOUND_TTL = 3_000;

/** The default export of the generated module. */
export function freshnessGroups(origin: string): DefineGroups {
  return (registry, options) => {
    new Group({
      name: "fresh",
      maxBytes: options.cacheBytes,
      registry,
      notFoundTtl: NOT_FOUND_TTL,
      getter: originGetter(origin, { node: options.node }),
    });
  };
}
