// Prints how evenly HashRing spreads keys and how many move when a member
// joins or leaves, for several virtual-node counts: the figures behind the
// ring's defaults. Run: deno task bench:ring
import { HashRing, type HashRingOptions } from "../../mod.ts";
import { addresses, balance } from "../../src/_testing.ts";

const keys = Array.from({ length: 100_000 }, (_, i) => `key-${i}`);

function measure(options: HashRingOptions, members: number) {
  const nodes = addresses(members);
  const ring = new HashRing(options);
  ring.add(...nodes);
  const before = keys.map((k) => ring.get(k));
  const max = balance(nodes, keys, (k) => ring.get(k));
  const joined = new HashRing(options);
  joined.add(...nodes, "127.0.0.1:40000");
  const movedOnJoin = keys.filter((k, i) => joined.get(k) !== before[i]).length / keys.length;
  const left = new HashRing(options);
  left.add(...nodes.slice(1));
  const movedOnLeave = keys.filter((k, i) => left.get(k) !== before[i]).length / keys.length;
  return { max, movedOnJoin, movedOnLeave, ideal: 1 / (members + 1), idealLeave: 1 / members };
}

const rows = [];
for (
  const [label, options] of [
    ["seed (crc32, 50)", { compat: "seed" }],
    ["fnv1a+fmix, 50", { replicas: 50 }],
    ["fnv1a+fmix, 100", { replicas: 100 }],
    ["fnv1a+fmix, 160 (default)", {}],
    ["fnv1a+fmix, 256", { replicas: 256 }],
  ] as [string, HashRingOptions][]
) {
  for (const members of [3, 10, 100]) {
    const m = measure(options, members);
    rows.push({
      ring: label,
      members,
      "max/mean": m.max.toFixed(3),
      "moved on join": `${(m.movedOnJoin * 100).toFixed(2)}% (ideal ${
        (m.ideal * 100).toFixed(2)
      }%)`,
      "moved on leave": `${(m.movedOnLeave * 100).toFixed(2)}% (ideal ${
        (m.idealLeave * 100).toFixed(2)
      }%)`,
    });
  }
}
console.table(rows);
