// Negative caching and stale-if-error through 3 real nodes (--peers) on an
// HTTP origin whose Cache-Control sets the TTL and stale window. grpc-js
// keeps timers after its channels close, so the sanitizers are off.
import assert from "node:assert/strict";
import { NodeClient, type NodeProcess, startNodeProcess, waitFor } from "./_cluster.ts";
import { freePort } from "../src/_testing/ports.ts";
import { NOT_FOUND_TTL } from "./_freshness_groups.ts";

const sanitizers = { sanitizeOps: false, sanitizeResources: false };
const NOT_FOUND = 5; // gRPC NOT_FOUND

// Values fresh for 1 s and served stale for 2 s more when the origin fails.
class FlakyOrigin implements AsyncDisposable {
  loads = new Map<string, number>();
  failing = false;
  #server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const key = decodeURIComponent(new URL(request.url).pathname.slice(1));
    this.loads.set(key, (this.loads.get(key) ?? 0) + 1);
    if (this.failing) return new Response("down", { status: 503 });
    if (key === "absent") return new Response("no such key", { status: 404 });
    return new Response(`value of ${key}`, {
      headers: { "cache-control": "max-age=1, stale-if-error=2" },
    });
  });
  get url(): string {
    return `http://127.0.0.1:${this.#server.addr.port}/{key}`;
  }
  loadsOf(key: string): number {
    return this.loads.get(key) ?? 0;
  }
  async [Symbol.asyncDispose](): Promise<void> {
    await this.#server.shutdown();
  }
}

async function cluster() {
  const origin = new FlakyOrigin();
  const dir = await Deno.makeTempDir({ prefix: "mccache-freshness-" });
  const module = `${dir}/groups.ts`;
  const factory = new URL("./_freshness_groups.ts", import.meta.url).href;
  await Deno.writeTextFile(
    module,
    `import { freshnessGroups } from ${JSON.stringify(factory)};\n` +
      `export default freshnessGroups(${JSON.stringify(origin.url)});\n`,
  );
  const addrs = [0, 1, 2].map(() => `127.0.0.1:${freePort()}`);
  const args = ["--peers", addrs.join(","), "--groups", module];
  // A --groups module and what it imports must be readable.
  const extra = [`--allow-read=./node_modules,./tests,./mod.ts,./src,${dir}`];
  const nodes: NodeProcess[] = [];
  const clients: NodeClient[] = [];
  const dispose = async () => {
    for (const client of clients) client[Symbol.dispose]();
    await Promise.all(nodes.map((node) => node[Symbol.asyncDispose]()));
    await origin[Symbol.asyncDispose]();
    await Deno.remove(dir, { recursive: true });
  };
  try {
    for (const addr of addrs) nodes.push(await startNodeProcess(args, addr, extra));
    for (const node of nodes) clients.push(new NodeClient(node.addr));
  } catch (error) {
    await dispose();
    throw error;
  }
  return { origin, clients, [Symbol.asyncDispose]: dispose };
}

Deno.test({
  name: "3 nodes: an absent key asked 1,000 times loads once per notFoundTtl",
  ...sanitizers,
  async fn() {
    await using c = await cluster();
    const started = Date.now();
    for (let batch = 0; batch < 20; batch++) {
      await Promise.all(Array.from({ length: 50 }, async (_, i) => {
        await assert.rejects(c.clients[i % 3].get("fresh", "absent"), { code: NOT_FOUND });
      }));
    }
    // At most one load per notFoundTtl (the 1,000 gets take 1-5 s, on a busy machine).
    const windows = 1 + Math.floor((Date.now() - started) / NOT_FOUND_TTL);
    const loads = c.origin.loadsOf("absent");
    assert.ok(loads >= 1 && loads <= windows, `${loads} loads in ${windows} windows`);
    // Once the owner forgets, the next get loads again: once.
    const before = c.origin.loadsOf("absent");
    await waitFor(
      async () => {
        await Promise.all(c.clients.map((client) => client.get("fresh", "absent").catch(() => {})));
        return c.origin.loadsOf("absent") > before;
      },
      "the owner forgot the miss",
      10_000,
    );
    assert.equal(c.origin.loadsOf("absent"), before + 1);
    assert.ok(Date.now() - started >= NOT_FOUND_TTL);
  },
});

Deno.test({
  name:
    "3 nodes: a value past its TTL is served stale while the origin fails, within stale-if-error only",
  ...sanitizers,
  async fn() {
    await using c = await cluster();
    const loaded = Date.now();
    assert.equal(await c.clients[0].get("fresh", "k"), "value of k");
    c.origin.failing = true;
    // Past the TTL (1 s) every node still answers, with the old value, after asking the origin.
    const answers: string[] = [];
    await waitFor(
      async () => {
        answers.push(...await Promise.all(c.clients.map((client) => client.get("fresh", "k"))));
        return c.origin.loadsOf("k") > 1;
      },
      "a failed load answered with the stale value",
      10_000,
    );
    assert.deepEqual(new Set(answers), new Set(["value of k"]));
    assert.ok(Date.now() - loaded >= 1_000, "the origin is asked only after the TTL");
    // After TTL + stale-if-error (3 s), the error.
    let error: { code?: number } | undefined;
    await waitFor(
      async () => {
        error = await c.clients[1].get("fresh", "k").then(() => undefined, (e) => e);
        return error !== undefined;
      },
      "the stale window ended",
      10_000,
    );
    assert.ok(Date.now() - loaded >= 3_000, `an error only after 3 s: ${Date.now() - loaded} ms`);
    assert.notEqual(error?.code, NOT_FOUND);
  },
});
