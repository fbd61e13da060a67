// The gateway's Cache-Control: stale-while-revalidate where the nodes serve stale.
import assert from "node:assert/strict";
import { createGatewayHandler } from "./handler.ts";
import type { Upstream, UpstreamValue } from "./upstream.ts";

function upstreamWith(ttl: number | undefined): Upstream {
  return {
    get: (): Promise<UpstreamValue> =>
      Promise.resolve({ value: new TextEncoder().encode("v"), ttl, node: "127.0.0.1:8001" }),
    set: () => Promise.resolve(),
    remove: () => Promise.resolve(),
    members: ["127.0.0.1:8001"],
    serving: true,
    close() {},
  };
}

Deno.test("The gateway's Cache-Control says stale-while-revalidate for values with a TTL", async (t) => {
  const cases: [string, number | undefined, number, string | null][] = [
    ["a fresh value", 30_500, 60_000, "max-age=30, stale-while-revalidate=60"],
    ["a value served stale (1 ms left)", 1, 60_000, "max-age=0, stale-while-revalidate=60"],
    ["a value without a TTL", undefined, 60_000, null],
    ["staleWhileRevalidate off", 30_000, 0, null],
  ];
  for (const [name, ttl, staleWhileRevalidate, expected] of cases) {
    await t.step(name, async () => {
      for (const debugHeaders of [false, true]) {
        const handler = createGatewayHandler({
          upstream: upstreamWith(ttl),
          staleWhileRevalidate,
          debugHeaders,
        });
        const response = await handler(new Request("http://gateway/mccache/g/k"));
        assert.equal(await response.text(), "v");
        assert.equal(response.headers.get("cache-control"), expected);
      }
    });
  }
  assert.throws(
    () => createGatewayHandler({ upstream: upstreamWith(1), staleWhileRevalidate: -1 }),
    /staleWhileRevalidate must be a non-negative number of milliseconds: received -1/,
  );
});
