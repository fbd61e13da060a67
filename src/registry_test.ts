import assert from "node:assert/strict";
import { Group } from "./group.ts";
import { UnknownGroupError } from "./errors.ts";
import { noPeers, type PeerPicker } from "./peers.ts";
import { defaultRegistry, getGroup, GroupRegistry, newGroup } from "./registry.ts";

Deno.test("newGroup and getGroup work as in the Go original", async () => {
  const db: Record<string, string> = { Rex: "156", Rola: "139" };
  const created = newGroup("go-original-scores", 2 << 10, (key) => db[key]);
  try {
    assert.equal(getGroup("go-original-scores"), created);
    assert.equal((await getGroup("go-original-scores")!.get("Rex")).text(), "156");
    assert.throws(() => newGroup("go-original-scores", 1, (key) => key), /already registered/);
  } finally {
    defaultRegistry.delete("go-original-scores");
  }
  assert.equal(getGroup("go-original-scores"), undefined);
});

Deno.test("GroupRegistry keeps groups apart per instance", () => {
  const a = new GroupRegistry();
  const b = new GroupRegistry();
  new Group({ name: "same", maxBytes: 0, getter: (key) => key, registry: a });
  new Group({ name: "same", maxBytes: 0, getter: (key) => key, registry: b });
  assert.notEqual(a.get("same"), b.get("same"));
  assert.deepEqual(a.names(), ["same"]);
  assert.deepEqual([...b].map((g) => g.name), ["same"]);
  assert.throws(() => a.mustGet("other"), UnknownGroupError);
  assert.ok(a.delete("same") && !a.delete("same"));
});

Deno.test("GroupRegistry gives its peer picker to groups added before and after", async () => {
  const asked: string[] = [];
  const peers: PeerPicker = {
    pickPeer: (key) => ({
      get: () => {
        asked.push(key);
        return Promise.resolve({ value: new TextEncoder().encode("remote") });
      },
    }),
    peers: () => [],
  };
  const registry = new GroupRegistry();
  const before = new Group({ name: "before", maxBytes: 1 << 20, getter: () => "local", registry });
  registry.registerPeers(peers);
  const after = new Group({ name: "after", maxBytes: 1 << 20, getter: () => "local", registry });
  assert.equal((await before.get("a")).text(), "remote");
  assert.equal((await after.get("b")).text(), "remote");
  assert.deepEqual(asked, ["a", "b"]);
  registry.registerPeers(noPeers);
  assert.equal((await after.get("c")).text(), "local");
});
