import { freePort } from "./ports.ts";

// A TCP relay to etcd that a test can cut and restore, to cut a client off
// while etcd itself stays up and changes.
export class TcpRelay {
  readonly endpoint: string;
  #port = freePort();
  #target: Deno.ConnectOptions;
  #listener?: Deno.Listener;
  #conns = new Set<Deno.Conn>();
  #clients = 0;
  #relayed = 0;

  constructor(target: string) {
    const [hostname, port] = target.split(":");
    this.#target = { hostname, port: Number(port) };
    this.endpoint = `127.0.0.1:${this.#port}`;
    this.restore();
  }

  /**
   * Connections from clients that the client side has not closed yet: a
   * test reads it to see that a client it cannot reach (one inside a
   * failed start-up) let go of its sockets.
   */
  get clients(): number {
    return this.#clients;
  }

  /** Connections relayed so far, closed or not. */
  get relayed(): number {
    return this.#relayed;
  }

  restore(): void {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: this.#port });
    this.#listener = listener;
    (async () => {
      for await (const conn of listener) void this.#relay(conn);
    })().catch(() => {});
  }

  async #relay(inbound: Deno.Conn): Promise<void> {
    const outbound = await Deno.connect(this.#target).catch(() => undefined);
    if (!outbound) return inbound.close();
    this.#conns.add(inbound).add(outbound);
    this.#clients++;
    this.#relayed++;
    await Promise.allSettled([
      inbound.readable.pipeTo(outbound.writable).finally(() => this.#clients--),
      outbound.readable.pipeTo(inbound.writable),
    ]);
    this.#close(inbound, outbound);
  }

  cut(): void {
    this.#listener?.close();
    this.#listener = undefined;
    this.#close(...this.#conns);
  }

  #close(...conns: Deno.Conn[]): void {
    for (const conn of conns) {
      this.#conns.delete(conn);
      try {
        conn.close();
      } catch { /* closed by the other side's pipe */ }
    }
  }
}
