// The gateway's request handling against a fake upstream with counters; the
// real cluster is exercised by tests/gateway_test.ts.
import assert from "node:assert/strict";
import { NotFoundError, PeerError } from "../errors.ts";
import { createGatewayHandler, type GatewayHandlerOptions } from "./handler.ts";
import type { Upstream, UpstreamCallOptions, UpstreamValue } from "./upstream.ts";

class FakeUpstream implements Upstream {
  gets: string[] = [];
  sets: string[] = [];
  removes: string[] = [];
  values = new Map<string, string>();
  delayMs = 0;
  fail: Error | undefined;
  members = ["127.0.0.1:8001"];
  serving = true;

  async get(group: string, key: string, _: UpstreamCallOptions): Promise<UpstreamValue> {
    this.gets.push(`${group}/${key}`);
    const value = this.values.get(`${group}/${key}`); // as of when the call reached the node
    if (this.delayMs) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    if (this.fail) throw this.fail;
    if (value === undefined) throw new NotFoundError(`${key} not exist`);
    return { value: new TextEncoder().encode(value), ttl: undefined, node: "127.0.0.1:8001" };
  }
  ttls: (number | undefined)[] = [];
  set(group: string, key: string, value: Uint8Array, ttl: number | undefined): Promise<void> {
    this.sets.push(`${group}/${key}`);
    this.ttls.push(ttl);
    this.values.set(`${group}/${key}`, new TextDecoder().decode(value));
    return Promise.resolve();
  }
  remove(group: string, key: string): Promise<void> {
    this.removes.push(`${group}/${key}`);
    this.values.delete(`${group}/${key}`);
    return Promise.resolve();
  }
  close(): void {}
}

function setup(options: Partial<GatewayHandlerOptions> = {}) {
  const upstream = new FakeUpstream();
  const handler = createGatewayHandler({ upstream, ...options });
  const request = async (path: string, init?: RequestInit) => {
    const response = await handler(new Request(`http://gateway${path}`, init));
    return { status: response.status, body: await response.text(), headers: response.headers };
  };
  return { upstream, request };
}

Deno.test("The gateway collapses identical concurrent GETs into one upstream call", async () => {
  const { upstream, request } = setup();
  upstream.values.set("g/k", "v");
  upstream.values.set("g:x/y", "other");
  upstream.delayMs = 20;
  const answers = await Promise.all(Array.from({ length: 100 }, () => request("/mccache/g/k")));
  assert.ok(answers.every((a) => a.status === 200 && a.body === "v"));
  assert.deepEqual(upstream.gets, ["g/k"]);
  // Group/key pairs that would collide if simply joined stay apart.
  const [a, b] = await Promise.all([request("/mccache/g%3Ax/y"), request("/mccache/g/x%3Ay")]);
  assert.equal(a.body, "other");
  assert.equal(b.status, 404);
});

Deno.test("The gateway names the answering node only with debugHeaders", async () => {
  for (const debugHeaders of [false, true]) {
    const { upstream, request } = setup({ debugHeaders });
    upstream.values.set("g/k", "v");
    const { headers } = await request("/mccache/g/k");
    // Content-Type alone keeps Deno.serve on its fast path.
    const expected: [string, string][] = [["content-type", "application/octet-stream"]];
    if (debugHeaders) {
      expected.push(["x-mccache-gateway-cache", "miss"], ["x-mccache-node", "127.0.0.1:8001"]);
    }
    assert.deepEqual([...headers].sort(), expected, `debugHeaders: ${debugHeaders}`);
  }
});

Deno.test("The gateway hot cache serves hot keys for at most --hot-ttl and drops them on PUT and DELETE", async () => {
  // random 0 admits every value.
  const { upstream, request } = setup({ hotTtl: 50, random: () => 0, debugHeaders: true });
  upstream.values.set("g/k", "v1");
  assert.equal((await request("/mccache/g/k")).headers.get("x-mccache-gateway-cache"), "miss");
  const hot = await request("/mccache/g/k");
  assert.equal(hot.body, "v1");
  assert.equal(hot.headers.get("x-mccache-gateway-cache"), "hot");
  assert.equal(upstream.gets.length, 1);

  assert.equal((await request("/mccache/g/k", { method: "PUT", body: "v2" })).status, 204);
  assert.equal((await request("/mccache/g/k")).body, "v2"); // not the hot copy of v1
  assert.equal(upstream.gets.length, 2);

  upstream.values.set("g/k", "changed elsewhere");
  const deadline = Date.now() + 2000;
  while ((await request("/mccache/g/k")).body !== "changed elsewhere") {
    assert.ok(Date.now() < deadline, "the hot copy outlived --hot-ttl");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.equal((await request("/mccache/g/k", { method: "DELETE" })).status, 204);
  assert.equal((await request("/mccache/g/k")).status, 404);
});

Deno.test("Every hot hit gets the whole value, and a hot entry counts the Response kept for it", async () => {
  // About 1 KiB a hot entry beyond its key and value: 2,500 bytes hold two.
  const { upstream, request } = setup({ hotTtl: 60_000, hotBytes: 2500, random: () => 0 });
  for (let i = 0; i < 10; i++) upstream.values.set(`g/k${i}`, `v${i}`);
  for (let i = 0; i < 10; i++) await request(`/mccache/g/k${i}`);
  const hits = await Promise.all(Array.from({ length: 50 }, () => request("/mccache/g/k9")));
  assert.ok(hits.every((hit) => hit.status === 200 && hit.body === "v9"));
  assert.equal(upstream.gets.length, 10); // all 50 from the hot cache
  for (let i = 0; i < 10; i++) await request(`/mccache/g/k${i}`);
  assert.ok(
    upstream.gets.length >= 18,
    `only ~2 values stay hot: ${upstream.gets.length - 10} refetched`,
  );
});

Deno.test("The gateway admits about 1 in 10 values into its hot cache", async () => {
  let calls = 0;
  const { upstream, request } = setup({ hotTtl: 60_000, random: () => (calls++ % 10) / 10 });
  for (let i = 0; i < 100; i++) upstream.values.set(`g/k${i}`, "v");
  for (let i = 0; i < 100; i++) await request(`/mccache/g/k${i}`);
  for (let i = 0; i < 100; i++) await request(`/mccache/g/k${i}`);
  assert.equal(upstream.gets.length, 200 - 10);
});

Deno.test("The gateway maps upstream failures to 502, 503 and 504", async (t) => {
  const cases: [string, Error, number][] = [
    ["the getter failed", new Error("origin answered 500"), 502],
    ["no node reachable", new PeerError("127.0.0.1:8001: UNAVAILABLE"), 503],
    ["deadline passed", new DOMException("Deadline passed", "TimeoutError"), 504],
  ];
  for (const [name, error, status] of cases) {
    await t.step(name, async () => {
      const { upstream, request } = setup();
      upstream.fail = error;
      const response = await request("/mccache/g/k");
      assert.equal(response.status, status);
      assert.equal(typeof JSON.parse(response.body).error, "string");
    });
  }
});

Deno.test("The gateway refuses raw dot segments and serves /healthz", async () => {
  const { upstream, request } = setup();
  // Request() resolves dot segments as clients do; raw ones are refused too.
  assert.equal((await request("/mccache/g/%2E%2E")).status, 400);
  assert.equal((await request("/healthz")).status, 200);
  // Known members that cannot serve (down, or refusing every call) are not enough.
  upstream.serving = false;
  const unhealthy = await request("/healthz");
  assert.equal(unhealthy.status, 503);
  assert.match(JSON.parse(unhealthy.body).error, /No cache node can serve/);
  assert.equal((await request("/metrics")).status, 404); // no metrics given
});

Deno.test("A PUT through the gateway is not undone by a GET that began before it", async () => {
  const { upstream, request } = setup({ hotTtl: 60_000, random: () => 0 });
  upstream.values.set("g/k", "old");
  upstream.delayMs = 30;
  const early = request("/mccache/g/k"); // reads "old" upstream, slowly
  while (upstream.gets.length === 0) await new Promise((resolve) => setTimeout(resolve, 1));
  upstream.delayMs = 0;
  assert.equal((await request("/mccache/g/k", { method: "PUT", body: "new" })).status, 204);
  assert.equal((await request("/mccache/g/k")).body, "new"); // does not join the old GET
  assert.equal((await early).body, "old");
  assert.equal((await request("/mccache/g/k")).body, "new"); // the old value was not kept hot
});

Deno.test("A PUT's ttl is whole milliseconds rounded up, and one that cannot travel is a 400", async () => {
  const { upstream, request } = setup();
  const put = (ttl: string) => request(`/mccache/g/k?ttl=${ttl}`, { method: "PUT", body: "v" });
  assert.equal((await put("0.5ms")).status, 204);
  assert.equal((await put("1.5s")).status, 204);
  assert.deepEqual(upstream.ttls, [1, 1500]);
  for (const ttl of ["0", "-1s", "99999999999999999999h"]) {
    const { status, body } = await put(ttl);
    assert.equal(status, 400, ttl);
    assert.match(body, /Invalid ttl/);
  }
  assert.equal(upstream.sets.length, 2);
  assert.throws(() => setup({ maxValueBytes: 1 << 30 }), RangeError);
});

Deno.test("With a token, writes (and with tokenReads, reads) need it as a bearer token", async (t) => {
  const token = "s3cret-token";
  const bearer = (value: string) => ({ authorization: `Bearer ${value}` });
  await t.step("writes", async () => {
    const { upstream, request } = setup({ token });
    for (const headers of [{}, bearer("wrong"), bearer(`${token}x`), { authorization: token }]) {
      const put = await request("/mccache/g/k", { method: "PUT", body: "v", headers });
      assert.equal(put.status, 401, JSON.stringify(headers));
      assert.equal(put.headers.get("www-authenticate"), "Bearer");
      assert.deepEqual(JSON.parse(put.body), { error: "Missing or wrong bearer token" });
      const del = await request("/mccache/g/k", { method: "DELETE", headers });
      assert.equal(del.status, 401);
    }
    assert.deepEqual([upstream.sets, upstream.removes], [[], []]);
    const put = await request("/mccache/g/k", { method: "PUT", body: "v", headers: bearer(token) });
    assert.equal(put.status, 204);
    assert.equal((await request("/mccache/g/k")).body, "v", "reads stay open");
    const del = await request("/mccache/g/k", { method: "DELETE", headers: bearer(token) });
    assert.equal(del.status, 204);
  });
  await t.step("reads too", async () => {
    const { upstream, request } = setup({ token, tokenReads: true });
    upstream.values.set("g/k", "v");
    assert.equal((await request("/mccache/g/k")).status, 401);
    assert.equal((await request("/mccache?group=g&key=k")).status, 401);
    assert.equal((await request("/mccache/g/k", { headers: bearer(token) })).body, "v");
    assert.equal((await request("/healthz")).status, 200, "health stays open");
  });
});

Deno.test("Error bodies name no node address unless debugHeaders is on", async () => {
  for (const debugHeaders of [false, true]) {
    const { upstream, request } = setup({ debugHeaders });
    upstream.fail = new PeerError("127.0.0.1:8001: UNAVAILABLE: connection refused");
    const { status, body } = await request("/mccache/g/k");
    assert.equal(status, 503);
    const { error } = JSON.parse(body);
    if (debugHeaders) assert.match(error, /^127\.0\.0\.1:8001: UNAVAILABLE/);
    else assert.equal(error, "a cache node: UNAVAILABLE: connection refused");
  }
});

Deno.test("A PUT whose body stops arriving is a 408 once bodyTimeout passes, and stores nothing", async () => {
  const { upstream, request } = setup({ bodyTimeout: 50 });
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode("half a val"));
    },
    cancel() {
      cancelled = true;
    },
  });
  const { status, body: text } = await request("/mccache/g/k", { method: "PUT", body });
  assert.equal(status, 408);
  assert.equal(JSON.parse(text).error, "Request body not received within 50 ms");
  assert.deepEqual(upstream.sets, []);
  assert.ok(cancelled, "the rest of the body is not read");
  assert.throws(() => setup({ bodyTimeout: 0 }), RangeError);
});
