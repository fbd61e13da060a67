// The physical limit of the stack for the cluster benchmark: a bare
// Deno.serve answering every request with a fixed 100-byte body, so that each
// scenario can be printed as a ratio to it. Port 0 picks a free one.
// Run: deno run --allow-net=127.0.0.1 tests/bench/bare_server.ts [port]
const BODY = new TextEncoder().encode("x".repeat(100));

Deno.serve({
  hostname: "127.0.0.1",
  port: Number(Deno.args[0] ?? 0),
  onListen: ({ port }) => console.log(`listening on 127.0.0.1:${port}`),
}, () => new Response(BODY));
