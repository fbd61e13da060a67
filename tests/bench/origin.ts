// The cluster benchmark's origin: GET /<size>/<key> answers benchValue(key,
// size), a value of <size> bytes made from the key. It runs as its own process
// so that its CPU is not taken from the built-in load generator. Port 0 picks
// a free one.
// Run: deno run --allow-net=127.0.0.1 tests/bench/origin.ts [port]
import { benchValue } from "./_workloads.ts";

Deno.serve({
  hostname: "127.0.0.1",
  port: Number(Deno.args[0] ?? 0),
  onListen: ({ port }) => console.log(`listening on 127.0.0.1:${port}`),
}, (request) => {
  const path = new URL(request.url).pathname;
  const slash = path.indexOf("/", 1);
  const size = Number(path.slice(1, slash));
  if (slash < 0 || !Number.isInteger(size) || size < 0) {
    return new Response("expected /<size>/<key>", { status: 400 });
  }
  return new Response(benchValue(decodeURIComponent(path.slice(slash + 1)), size));
});
