import assert from "node:assert/strict";
import { HashRing } from "./hash_ring.ts";
import { addresses, balance } from "./_testing.ts";

const keys = Array.from({ length: 100_000 }, (_, i) => `key-${i}`);

Deno.test("HashRing places keys exactly as the Go original in seed mode", () => {
  // Expected owners computed independently (Python zlib.crc32, bisect) with
  // the Go original's rule: crc32(String(i) + member), 50 per member.
  const ring = new HashRing({ compat: "seed" });
  ring.add("127.0.0.1:8001", "127.0.0.1:8002", "127.0.0.1:8003");
  const expected: Record<string, string> = {
    Rex: "127.0.0.1:8002",
    Rola: "127.0.0.1:8002",
    lisi: "127.0.0.1:8002",
    zhangshan: "127.0.0.1:8002",
    Tom: "127.0.0.1:8001",
    Jack: "127.0.0.1:8003",
    Sam: "127.0.0.1:8002",
    "é": "127.0.0.1:8002",
    "日本語": "127.0.0.1:8003",
    "key-42": "127.0.0.1:8002",
  };
  for (const [key, owner] of Object.entries(expected)) assert.equal(ring.get(key), owner, key);
});

Deno.test("HashRing hashes the UTF-8 bytes of keys, not UTF-16 units", () => {
  const ring = new HashRing({ compat: "seed" });
  assert.equal(ring.hashKey("é"), 0x0e048d3e);
  assert.equal(ring.hashKey("😀"), 0x054db544);
});

Deno.test("HashRing placement does not depend on the order members were added", () => {
  const members = addresses(10);
  const a = new HashRing();
  a.add(...members);
  const b = new HashRing();
  for (const m of [...members].reverse()) b.add(m);
  const c = new HashRing();
  c.add(...members, "extra");
  c.remove("extra");
  for (const key of keys.slice(0, 10_000)) {
    assert.equal(b.get(key), a.get(key));
    assert.equal(c.get(key), a.get(key));
  }
});

Deno.test("HashRing with defaults spreads keys within measured bounds", async (t) => {
  // Measured max/mean for 100,000 keys: 1.07 (3), 1.09 (10), 1.29 (100 members,
  // where 1,000 keys a member leaves ~3% noise each). Bounds leave some room.
  for (const [members, bound] of [[3, 1.12], [10, 1.15], [100, 1.35]]) {
    await t.step(`${members} members: max/mean <= ${bound}`, () => {
      const ring = new HashRing();
      const nodes = addresses(members);
      ring.add(...nodes);
      assert.ok(balance(nodes, keys, (k) => ring.get(k)) <= bound);
    });
  }
});

Deno.test("HashRing moves only the joining or leaving member's share of keys", async (t) => {
  for (const members of [3, 10, 100]) {
    await t.step(`${members} members`, () => {
      const nodes = addresses(members);
      const ring = new HashRing();
      ring.add(...nodes);
      const before = keys.map((k) => ring.get(k));
      ring.add("127.0.0.1:40000");
      let moved = 0;
      keys.forEach((k, i) => {
        const now = ring.get(k);
        if (now === before[i]) return;
        moved++;
        assert.equal(now, "127.0.0.1:40000", "a key moved between old members");
      });
      const ideal = keys.length / (members + 1);
      assert.ok(moved > ideal * 0.7 && moved < ideal * 1.3, `moved ${moved}, ideal ${ideal}`);
      ring.remove("127.0.0.1:40000");
      keys.forEach((k, i) => assert.equal(ring.get(k), before[i]));
    });
  }
});

Deno.test("HashRing.getN returns distinct members, the owner first", () => {
  const ring = new HashRing();
  ring.add(...addresses(5));
  for (const key of keys.slice(0, 1000)) {
    const three = ring.getN(key, 3);
    assert.equal(three.length, 3);
    assert.equal(new Set(three).size, 3);
    assert.equal(three[0], ring.get(key));
    // The second is where the key goes once the owner leaves.
    const without = new HashRing();
    without.add(...addresses(5).filter((m) => m !== three[0]));
    assert.equal(without.get(key), three[1]);
  }
  assert.equal(ring.getN("k", 99).length, 5);
  assert.deepEqual(new HashRing().getN("k", 2), []);
});

Deno.test("HashRing rejects a bad replica count and answers undefined when empty", () => {
  assert.throws(() => new HashRing({ replicas: 0 }), RangeError);
  assert.throws(() => new HashRing({ replicas: 1.5 }), /positive integer: received 1.5/);
  assert.equal(new HashRing().get("k"), undefined);
});

Deno.test("HashRing uses a custom hash for keys and virtual nodes", () => {
  const seen: number[] = [];
  const ring = new HashRing({
    replicas: 1,
    hash: (data) => {
      seen.push(data.length);
      return data[0];
    },
  });
  ring.add("b", "d"); // virtual nodes "0b" and "0d" both hash to "0" (48)
  assert.equal(ring.get("a"), "b"); // ties broken by member name
  assert.ok(seen.length >= 3);
});

Deno.test("HashRing.walk skips members that accept rejects, in ring order", () => {
  const ring = new HashRing();
  ring.add(...addresses(5));
  for (const key of keys.slice(0, 200)) {
    const order = ring.getN(key, 5);
    const down = new Set([order[0], order[2]]);
    assert.deepEqual(
      ring.walk(ring.hashKey(key), 5, (m) => !down.has(m)),
      order.filter((m) => !down.has(m)),
    );
  }
  assert.deepEqual(ring.walk(0, 3, () => false), []);
});

Deno.test("HashRing shares sum to 1 and match the fraction of keys each member owns", async (t) => {
  for (const compat of [undefined, "seed"] as const) {
    await t.step(compat ?? "default", () => {
      const ring = new HashRing({ compat });
      const members = addresses(4);
      ring.add(...members);
      const shares = ring.shares();
      assert.deepEqual([...shares.keys()].sort(), [...members].sort());
      const sum = [...shares.values()].reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(sum - 1) < 1e-9, `sum ${sum}`);
      const owned = new Map<string, number>();
      for (const key of keys) owned.set(ring.get(key)!, (owned.get(ring.get(key)!) ?? 0) + 1);
      for (const member of members) {
        const fraction = owned.get(member)! / keys.length;
        assert.ok(Math.abs(fraction - shares.get(member)!) < 0.01, `${member}: ${fraction}`);
      }
    });
  }
  assert.equal(new HashRing().shares().size, 0);
});
