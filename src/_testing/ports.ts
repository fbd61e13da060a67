// Free loopback ports for tests that start servers and processes.

/**
 * Returns a TCP port on 127.0.0.1 that was free a moment ago: the kernel picks
 * it for a listener bound to port 0, which is closed again at once. Another
 * process may take it before the caller binds it, so callers that spawn a
 * server retry with a new port when the server fails to bind. The kernel
 * may pick a port it picked a moment ago: none is handed out twice in one
 * process, so servers that one test starts together never clash.
 *
 * @example Pick a port for a server
 * ```ts
 * import { freePort } from "./ports.ts";
 *
 * const port = freePort();
 * const server = Deno.serve({ hostname: "127.0.0.1", port }, () => new Response("ok"));
 * await server.shutdown();
 * ```
 */
export function freePort(): number {
  for (;;) {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}

const handedOut = new Set<number>();
