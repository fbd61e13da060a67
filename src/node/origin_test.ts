// The origin getter against a local Deno.serve that counts its requests.
import assert from "node:assert/strict";
import { ByteView } from "../byte_view.ts";
import { errorStatus, NotFoundError } from "../errors.ts";
import { originGetter, OriginTooLargeError } from "./origin.ts";

/** A body per key: `bytes` of them, with a Content-Length or streamed without one. */
function fakeOrigin(bytes: number) {
  const requests = new Map<string, number>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const key = new URL(request.url).pathname.slice(1);
    requests.set(key, (requests.get(key) ?? 0) + 1);
    if (key.startsWith("declared")) return new Response(new Uint8Array(bytes));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= bytes) return controller.close();
        const chunk = new Uint8Array(Math.min(4096, bytes - sent));
        sent += chunk.length;
        controller.enqueue(chunk);
      },
    });
    return new Response(body);
  });
  return {
    requests,
    url: `http://127.0.0.1:${server.addr.port}/{key}`,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

const signal = new AbortController().signal;

/** What a load of `key` through `get` failed with. */
async function failure(get: ReturnType<typeof originGetter>, key: string): Promise<unknown> {
  try {
    await get(key, { signal });
  } catch (error) {
    return error;
  }
  throw new Error(`Loading ${key} did not fail`);
}

Deno.test("originGetter reads a body of exactly maxBodyBytes, with or without a length", async () => {
  await using origin = fakeOrigin(1000);
  const get = originGetter(origin.url, { maxBodyBytes: 1000 });
  for (const key of ["declared", "streamed"]) {
    assert.equal((await get(key, { signal }) as ByteView).length, 1000);
  }
});

Deno.test("originGetter fails a body over maxBodyBytes with a 502 and remembers it for negativeTtl", async (t) => {
  await using origin = fakeOrigin(10_000);
  let now = 0;
  const get = originGetter(origin.url, { maxBodyBytes: 1000, negativeTtl: 5000, now: () => now });
  for (const key of ["declared", "streamed"]) {
    await t.step(key, async () => {
      for (let i = 0; i < 3; i++) {
        const error = await failure(get, key);
        assert.ok(error instanceof OriginTooLargeError);
        assert.equal(
          error.message,
          `Origin body of "${key}" is over this node's limit of 1000 bytes`,
        );
        assert.equal(errorStatus(error).http, 502);
      }
      assert.equal(origin.requests.get(key), 1);
      now += 5000;
      assert.ok(await failure(get, key) instanceof OriginTooLargeError);
      assert.equal(origin.requests.get(key), 2, "asked again once negativeTtl has passed");
    });
  }
});

Deno.test("originGetter with negativeTtl 0 asks the origin every time", async () => {
  await using origin = fakeOrigin(2000);
  const get = originGetter(origin.url, { maxBodyBytes: 1000, negativeTtl: 0 });
  for (let i = 0; i < 3; i++) {
    assert.ok(await failure(get, "declared") instanceof OriginTooLargeError);
  }
  assert.equal(origin.requests.get("declared"), 3);
});

Deno.test("originGetter refuses a bad maxBodyBytes or negativeTtl", () => {
  assert.throws(
    () => originGetter("http://127.0.0.1/{key}", { maxBodyBytes: -1 }),
    RangeError,
  );
  assert.throws(() => originGetter("http://127.0.0.1/{key}", { negativeTtl: 0.5 }), RangeError);
});

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
          assert.ok(result instanceof ByteView);
        } else {
          const { value, ...rest } = result as { value: ByteView };
          assert.equal(value.text(), key);
          assert.deepEqual(rest, expected);
        }
      });
    }
    await assert.rejects(Promise.resolve(get("absent", { signal })), NotFoundError);
  } finally {
    await server.shutdown();
  }
});
