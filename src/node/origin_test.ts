// originGetter against a real HTTP origin on a free loopback port.
import assert from "node:assert/strict";
import { NotFoundError } from "../errors.ts";
import { originGetter } from "./origin.ts";

Deno.test("originGetter takes the TTL and stale windows from the origin's Cache-Control", async (t) => {
  const headers: Record<string, string> = {
    fresh: "public, max-age=60",
    stale: "max-age=10, stale-while-revalidate=30, Stale-If-Error=3600",
    none: "no-store",
    zero: "max-age=0, stale-if-error=60",
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const key = new URL(request.url).pathname.slice(1);
    if (!(key in headers)) return new Response("no", { status: 404 });
    return new Response(key, { headers: { "cache-control": headers[key] } });
  });
  try {
    const get = originGetter(`http://127.0.0.1:${server.addr.port}/{key}`);
    const signal = new AbortController().signal;
    const cases: [string, unknown][] = [
      ["fresh", { ttl: 60_000, staleWhileRevalidate: undefined, staleIfError: undefined }],
      ["stale", { ttl: 10_000, staleWhileRevalidate: 30_000, staleIfError: 3_600_000 }],
      ["none", undefined],
      ["zero", undefined],
    ];
    for (const [key, expected] of cases) {
      await t.step(key, async () => {
        const result = await get(key, { signal });
        if (expected === undefined) {
          assert.ok(result instanceof Uint8Array);
        } else {
          const { value, ...rest } = result as { value: Uint8Array };
          assert.equal(new TextDecoder().decode(value), key);
          assert.deepEqual(rest, expected);
        }
      });
    }
    await assert.rejects(Promise.resolve(get("absent", { signal })), NotFoundError);
  } finally {
    await server.shutdown();
  }
});
