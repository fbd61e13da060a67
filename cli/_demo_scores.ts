// The demo data: the Go original's example group `scores`, as in its README,
// which a node serves when it is given no groups of its own.
import { Group, type GroupRegistry, NotFoundError } from "../mod.ts";

const SCORES: Readonly<Record<string, string>> = Object.freeze({
  zhangshan: "104",
  lisi: "178",
  Rex: "156",
  Rola: "139",
});

/** Adds the group `scores` (the four entries above) to `registry`. */
export function addDemoScores(registry: GroupRegistry, cacheBytes: number): Group {
  return new Group({
    name: "scores",
    maxBytes: cacheBytes,
    registry,
    getter: (key) => {
      if (Object.hasOwn(SCORES, key)) return SCORES[key];
      throw new NotFoundError(`${key} not exist`);
    },
  });
}
