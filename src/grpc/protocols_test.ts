// What a process learns of its members' protocols: remembered until a
// member leaves or registers again, probed once per connection, and what
// /healthz reads. No sockets: probes are fakes with counters.
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { type MemberProtocol, MemberProtocols, refusedMethod } from "./protocols.ts";
import { ERROR_METADATA_KEY } from "./status.ts";

// A probe whose answers the test gives, one member at a time.
function fakeProbe() {
  const asked: string[] = [];
  const pending = new Map<string, (protocol: MemberProtocol | undefined) => void>();
  return {
    asked,
    probe(member: string): Promise<MemberProtocol | undefined> {
      asked.push(member);
      return new Promise((resolve) => pending.set(member, resolve));
    },
    async answer(member: string, protocol: MemberProtocol | undefined): Promise<void> {
      while (!pending.has(member)) await new Promise((resolve) => setTimeout(resolve, 1));
      pending.get(member)!(protocol);
      pending.delete(member);
      await new Promise((resolve) => setTimeout(resolve, 0));
    },
  };
}

Deno.test("MemberProtocols forgets a member's protocol when it leaves or registers again", () => {
  const protocols = new MemberProtocols();
  const leases = new Map([["a", "lease-1"], ["b", "lease-2"]]);
  protocols.sync(["a", "b"], (m) => leases.get(m));
  protocols.learn("a", "geecachepb");
  protocols.learn("b", "geecachepb");
  protocols.sync(["a", "b"], (m) => leases.get(m)); // nothing changed
  assert.equal(protocols.of("a"), "geecachepb");
  leases.set("a", "lease-3"); // a restarted under a new lease
  protocols.sync(["a", "b"], (m) => leases.get(m));
  assert.equal(protocols.of("a"), undefined);
  assert.ok(protocols.speaksMccache("a"));
  assert.equal(protocols.of("b"), "geecachepb");
  protocols.sync(["a"], (m) => leases.get(m)); // b left
  assert.equal(protocols.of("b"), undefined);
  protocols.learn("a", "none");
  protocols.learn("a", "geecachepb"); // a refusal of mccache's calls again: nothing new
  assert.equal(protocols.of("a"), "none");
  protocols.learn("a", "mccache.v1"); // but a node that named itself is one of ours
  assert.equal(protocols.of("a"), "mccache.v1");
});

Deno.test("MemberProtocols probes each connected member once, and serves once one answers", async () => {
  const fake = fakeProbe();
  const protocols = new MemberProtocols({ probe: (m) => fake.probe(m) });
  protocols.sync(["a", "b", "c"]);
  assert.equal(protocols.serving, false);
  protocols.setConnected(new Set(["a", "b"]));
  protocols.setConnected(new Set(["a", "b"])); // reported again: no second probe
  await fake.answer("a", "none");
  assert.equal(protocols.serving, false, "a member that refuses both does not serve");
  await fake.answer("b", undefined); // could not tell: asked again once it reconnects
  assert.equal(protocols.serving, false);
  assert.deepEqual(fake.asked.sort(), ["a", "b"]);
  protocols.setConnected(new Set(["a"]));
  protocols.setConnected(new Set(["a", "b", "c"]));
  await fake.answer("b", "geecachepb");
  assert.equal(protocols.serving, true);
  await fake.answer("c", "mccache.v1");
  assert.deepEqual(fake.asked.sort(), ["a", "b", "b", "c"]);
  protocols.setConnected(new Set(["a"]));
  assert.equal(protocols.serving, false, "the members that serve are down");
});

Deno.test("MemberProtocols ignores a probe's answer about a registration that has gone", async () => {
  const fake = fakeProbe();
  const protocols = new MemberProtocols({ probe: (m) => fake.probe(m) });
  let lease = "lease-1";
  protocols.sync(["a"], () => lease);
  protocols.setConnected(new Set(["a"]));
  lease = "lease-2";
  protocols.sync(["a"], () => lease);
  await fake.answer("a", "geecachepb"); // about lease-1
  assert.equal(protocols.of("a"), undefined);
});

Deno.test("MemberProtocols tells its listeners of a change later, once per burst", async () => {
  const protocols = new MemberProtocols();
  let calls = 0;
  protocols.subscribe(() => calls++);
  protocols.learn("a", "geecachepb");
  protocols.learn("b", "none");
  protocols.learn("b", "none"); // known already
  assert.equal(calls, 0, "never from inside learn()");
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(calls, 1);
});

Deno.test("refusedMethod tells a missing method from an error a server of ours named", () => {
  const named = new grpc.Metadata();
  named.set(ERROR_METADATA_KEY, "UnsupportedError");
  const cases: [string, { code: number; metadata?: grpc.Metadata }, boolean][] = [
    [
      "UNIMPLEMENTED, no class",
      { code: grpc.status.UNIMPLEMENTED, metadata: new grpc.Metadata() },
      true,
    ],
    ["UNIMPLEMENTED, no metadata", { code: grpc.status.UNIMPLEMENTED }, true],
    [
      "UNIMPLEMENTED named by our server",
      { code: grpc.status.UNIMPLEMENTED, metadata: named },
      false,
    ],
    ["UNAVAILABLE", { code: grpc.status.UNAVAILABLE, metadata: new grpc.Metadata() }, false],
  ];
  for (const [name, error, refused] of cases) assert.equal(refusedMethod(error), refused, name);
});
