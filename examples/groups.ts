// A --groups module: `deno run -A cli/node.ts --groups examples/groups.ts`.
// Its default export receives the node's registry and adds the groups the
// node serves; every node of a cluster must load the same module.
import { Group, type GroupRegistry, NotFoundError } from "../mod.ts";
import type { DefineGroupsOptions } from "../src/node/mod.ts";

const capitals: Record<string, string> = { France: "Paris", Japan: "Tokyo", Peru: "Lima" };

export default function defineGroups(registry: GroupRegistry, options: DefineGroupsOptions): void {
  // A computed value: any key that parses as a number has a square.
  new Group({
    name: "squares",
    maxBytes: options.cacheBytes,
    registry,
    getter: (key) => {
      const n = Number(key);
      if (!Number.isFinite(n)) throw new NotFoundError(`${key} is not a number`);
      return String(n * n);
    },
  });
  // A lookup with a TTL, so changes at the source show within a minute.
  new Group({
    name: "capitals",
    maxBytes: 1 << 20,
    registry,
    getter: (key) => {
      const capital = capitals[key];
      if (capital === undefined) throw new NotFoundError(`no capital known for ${key}`);
      return { value: capital, ttl: 60_000 };
    },
  });
}
