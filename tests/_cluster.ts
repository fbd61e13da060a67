// Real processes for cluster tests: cache nodes and gateways started the way
// users do (`deno run` with scoped permissions), an HTTP origin that
// counts its loads, a gRPC client that speaks to nodes as a gateway does, and
// polling with a deadline instead of sleeps.
import * as grpc from "@grpc/grpc-js";
import { fromServiceError } from "../src/grpc/status.ts";
import { CacheClient } from "../src/grpc/_testing.ts";
import type { StatsResponse } from "../src/grpc/messages.ts";
import { freePort } from "../src/_testing/ports.ts";
import { waitFor } from "../src/_testing/wait.ts";

export { waitFor };

/** The least permissions `cli/node.ts` and `cli/gateway.ts` need on loopback: a new need fails the tests. */
export const PERMISSIONS = [
  "--allow-net=127.0.0.1",
  "--allow-read=./node_modules",
  "--allow-env=GRPC_*,grpc_proxy,https_proxy,http_proxy,no_grpc_proxy,no_proxy",
];

/** The V8 flag the README recommends for nodes: it keeps a node within about twice its budget. */
export const NODE_V8_FLAGS = ["--v8-flags=--optimize-for-size"];
/** The V8 flag `deno task gateway` runs with: a young generation where request objects die young (cli/start.ts). */
export const GATEWAY_V8_FLAGS = ["--v8-flags=--max-semi-space-size=16"];

const ROOT = new URL("..", import.meta.url).pathname;
const START_TIMEOUT_MS = 20_000;

/** How to start a {@linkcode Process}. */
export interface ProcessOptions {
  /** The checkout whose script runs. @default {this one} */
  root?: string;
  /** `script` names a `deno task` (run as the README says), not a file. @default {false} */
  task?: boolean;
  /** More environment variables. @default {{}} */
  env?: Record<string, string>;
  /** A network namespace to run in (`ip netns exec`, through sh). @default {undefined} */
  netns?: string;
}

/** A `deno run` (or `deno task`) child process whose stderr is kept for assertions and errors. */
export class Process implements AsyncDisposable {
  readonly lines: string[] = [];
  readonly status: Promise<Deno.CommandStatus>;
  #child: Deno.ChildProcess;
  #stdout = "";

  /** Runs `script` with the README's permissions and `extraPermissions`. */
  constructor(
    script: string,
    args: string[],
    extraPermissions: string[] = [],
    options: ProcessOptions = {},
  ) {
    const command = options.task
      ? ["task", "-q", script, ...args]
      : ["run", ...PERMISSIONS, ...extraPermissions, script, ...args];
    // sh passes the arguments on as they are: "$0" is the namespace.
    const [program, programArgs] = options.netns === undefined
      ? ["deno", command]
      : ["sh", ["-c", 'exec ip netns exec "$0" deno "$@"', options.netns, ...command]];
    this.#child = new Deno.Command(program, {
      args: programArgs,
      cwd: options.root ?? ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1", ...options.env },
    }).spawn();
    // Drain both pipes so a chatty child never blocks on a full pipe.
    const collect = async (stream: ReadableStream<Uint8Array>, onText: (text: string) => void) => {
      for await (const text of stream.pipeThrough(new TextDecoderStream())) onText(text);
    };
    let partial = "";
    const stderr = collect(this.#child.stderr, (text) => {
      const parts = (partial + text).split("\n");
      partial = parts.pop()!;
      this.lines.push(...parts);
    });
    const stdout = collect(this.#child.stdout, (text) => this.#stdout += text);
    this.status = Promise.all([stderr, stdout]).then(() => this.#child.status);
  }

  /** Everything the process printed on stdout so far. */
  get stdout(): string {
    return this.#stdout;
  }

  /** The process id. */
  get pid(): number {
    return this.#child.pid;
  }

  /** Resolves once a stderr or stdout line matches; rejects if the process exits first. */
  async waitForLine(pattern: RegExp, timeout = START_TIMEOUT_MS): Promise<void> {
    let exited = false;
    this.status.then(() => exited = true);
    const deadline = Date.now() + timeout;
    while (!this.lines.some((l) => pattern.test(l)) && !pattern.test(this.#stdout)) {
      if (exited) throw new Error(`Exited before printing ${pattern}:\n${this.tail()}`);
      if (Date.now() > deadline) {
        throw new Error(`No ${pattern} within ${timeout} ms:\n${this.tail()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  /** The last lines of stderr, for error messages. */
  tail(count = 15): string {
    return this.lines.slice(-count).join("\n");
  }

  /**
   * This process and every process under it (a `deno task` runs the
   * launcher, which runs the script), read from /proc by `sh`: tests may run
   * sh, not read /proc or kill other processes themselves.
   */
  async tree(): Promise<number[]> {
    const script = "tree() { echo $1; for c in $(cat /proc/$1/task/*/children 2>/dev/null); " +
      `do tree $c; done; }; tree ${this.pid}`;
    const { stdout } = await new Deno.Command("sh", { args: ["-c", script] }).output();
    return new TextDecoder().decode(stdout).split("\n").filter(Boolean).map(Number);
  }

  /** Sends `signal` to the process itself (SIGSTOP, SIGCONT), without waiting. */
  send(signal: Deno.Signal): void {
    this.#child.kill(signal);
  }

  /** Sends `signal` (SIGKILL to the whole tree: nothing passes it on) and waits for the exit status. */
  async signal(signal: Deno.Signal): Promise<Deno.CommandStatus> {
    if (signal === "SIGKILL") {
      const pids = await this.tree();
      await new Deno.Command("sh", { args: ["-c", `kill -9 ${pids.join(" ")} 2>/dev/null`] })
        .output();
    } else {
      try {
        this.#child.kill(signal);
      } catch {
        // Already gone.
      }
    }
    return await this.status;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    const timer = setTimeout(() => this.signal("SIGKILL"), 5000);
    await this.signal("SIGTERM");
    clearTimeout(timer);
  }
}

/** A cache node process (`cli/node.ts`). */
export class NodeProcess extends Process {
  constructor(
    readonly addr: string,
    readonly httpAddr: string,
    args: string[],
    extraPermissions: string[] = [],
  ) {
    const flags = ["--addr", addr, "--http-addr", httpAddr, "--log-level", "debug", ...args];
    super("cli/node.ts", flags, [...NODE_V8_FLAGS, ...extraPermissions]);
  }
}

/**
 * Starts a node on free ports with `args` (e.g. `--etcd`, `--origin`) and
 * waits until it serves. `--groups` modules need `--allow-read` of their
 * files in `extraPermissions`, as the README says.
 */
export async function startNodeProcess(
  args: string[],
  addr?: string,
  extraPermissions: string[] = [],
): Promise<NodeProcess> {
  const node = new NodeProcess(
    addr ?? `127.0.0.1:${freePort()}`,
    `127.0.0.1:${freePort()}`,
    args,
    extraPermissions,
  );
  try {
    await node.waitForLine(/node started/);
  } catch (error) {
    await node.signal("SIGKILL");
    throw error;
  }
  return node;
}

/** Starts a gateway process on a free port and waits until it serves. */
export async function startGatewayProcess(args: string[]): Promise<Process & { addr: string }> {
  const addr = `127.0.0.1:${freePort()}`;
  const process = new Process("cli/gateway.ts", ["--addr", addr, ...args], GATEWAY_V8_FLAGS);
  const gateway = Object.assign(process, { addr });
  try {
    await gateway.waitForLine(/gateway started/);
  } catch (error) {
    await gateway.signal("SIGKILL");
    throw error;
  }
  return gateway;
}

/**
 * Runs `deno task <task> <args>` as the README shows it, and waits for the
 * line `ready`; `addr` is where it serves (for the caller's convenience).
 */
export async function startTask(
  task: "node" | "gateway",
  args: string[],
  options: { env?: Record<string, string>; ready?: RegExp; netns?: string } = {},
): Promise<Process> {
  const { env, netns } = options;
  const process = new Process(task, args, [], { task: true, env, netns });
  try {
    await process.waitForLine(options.ready ?? new RegExp(`${task} started`));
  } catch (error) {
    await process.signal("SIGKILL");
    throw error;
  }
  return process;
}

/**
 * Starts the test double of a node of the Go original
 * (`tests/go_original_node.ts`) on a free port, serving group `group` from
 * `origin` (a URL with `{key}`), registered in etcd at `etcd` when given.
 */
export async function startGoOriginalNode(
  origin: string,
  options: { etcd?: string; group?: string; addr?: string } = {},
): Promise<Process & { addr: string }> {
  const addr = options.addr ?? `127.0.0.1:${freePort()}`;
  const args = ["--addr", addr, "--origin", origin, "--group", options.group ?? "scores"];
  if (options.etcd !== undefined) args.push("--etcd", options.etcd);
  const node = Object.assign(
    new Process("tests/go_original_node.ts", args, ["--allow-read=./proto"]),
    { addr },
  );
  try {
    await node.waitForLine(/go original node started/);
  } catch (error) {
    await node.signal("SIGKILL");
    throw error;
  }
  return node;
}

/** An HTTP origin for `--origin`: values by key, counting every load and which node made it. */
export class Origin implements AsyncDisposable {
  readonly values = new Map<string, string>();
  readonly loads: { key: string; node: string | null }[] = [];
  #server: Deno.HttpServer<Deno.NetAddr>;
  /** Delay before answering, to let concurrent requests pile up. */
  delayMs = 0;

  constructor() {
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      async (request) => {
        const url = new URL(request.url);
        const key = url.searchParams.get("key") ??
          decodeURIComponent(url.pathname.replace(/^\/values\//, ""));
        this.loads.push({ key, node: request.headers.get("x-mccache-node") });
        if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
        const value = this.values.get(key);
        return value === undefined
          ? new Response("no such key", { status: 404 })
          : new Response(value);
      },
    );
  }

  /** The `--origin` URL template, with the key in the path. */
  get url(): string {
    return `http://127.0.0.1:${this.#server.addr.port}/values/{key}`;
  }

  /** The `--origin` URL template, with the key in the query. */
  get queryUrl(): string {
    return `http://127.0.0.1:${this.#server.addr.port}/values?key={key}`;
  }

  /** How often `key` was loaded. */
  loadsOf(key: string): number {
    return this.loads.filter((l) => l.key === key).length;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#server.shutdown();
  }
}

/** Speaks mccache.v1.Cache to one node the way a gateway does (never `local`). */
export class NodeClient implements Disposable {
  #client: grpc.Client;

  constructor(readonly addr: string) {
    this.#client = new CacheClient(addr, grpc.credentials.createInsecure(), {
      // Fail fast when the node is gone instead of waiting for a reconnect.
      "grpc.initial_reconnect_backoff_ms": 100,
      "grpc.max_reconnect_backoff_ms": 500,
    });
  }

  async get(group: string, key: string, timeout = 5000): Promise<string> {
    const response = await this.call<{ value: Uint8Array }>("Get", { group, key }, timeout);
    return new TextDecoder().decode(response.value);
  }

  async remove(group: string, key: string, timeout = 5000): Promise<void> {
    await this.call("Remove", { group, key }, timeout);
  }

  stats(timeout = 2000): Promise<StatsResponse> {
    return this.call<StatsResponse>("Stats", {}, timeout);
  }

  /** Calls `method`; rejects with the raw grpc ServiceError (to check codes) wrapped by `fromServiceError`. */
  call<Res>(method: string, request: object, timeout = 5000): Promise<Res> {
    return new Promise((resolve, reject) => {
      const rpc = (this.#client as unknown as Record<string, UnaryCall<Res>>)[method];
      rpc.call(
        this.#client,
        request,
        { deadline: Date.now() + timeout },
        (error: grpc.ServiceError | null, response: Res) => {
          if (error) {
            reject(Object.assign(fromServiceError(error, this.addr), { code: error.code }));
          } else resolve(response);
        },
      );
    });
  }

  [Symbol.dispose](): void {
    this.#client.close();
  }
}

type UnaryCall<Res> = (
  request: object,
  options: grpc.CallOptions,
  callback: (error: grpc.ServiceError | null, response: Res) => void,
) => void;
