// HashRing.get for ring sizes a cluster might have.
import { HashRing } from "./hash_ring.ts";
import { addresses } from "./_testing.ts";

const keys = Array.from({ length: 10_000 }, (_, i) => `key-${i}`);

for (const members of [8, 32, 128, 512]) {
  const ring = new HashRing();
  ring.add(...addresses(members));
  let i = 0;
  Deno.bench(
    `HashRing.get, ${members} members`,
    { group: "HashRing.get", baseline: members === 8 },
    () => {
      ring.get(keys[i++ % keys.length]);
    },
  );
}
