// A real etcd for tests: one single-member cluster per call to startEtcd(), on
// free loopback ports, with its data and log in a temp dir under /tmp.
//
// Needs --allow-run=etcd --allow-net=127.0.0.1 --allow-write=/tmp. The log is
// never read back (that would need read access to /tmp): the last few KiB of
// etcd's output are kept in memory for error messages instead.
import { Buffer } from "node:buffer";
import { Etcd3 } from "etcd3";
import { freePort } from "./ports.ts";
import { drain, OutputTail } from "./output.ts";

export { type LogRecord, recordingLogger } from "./log.ts";

/** How long etcd may take to answer `/health` after it was spawned. */
const READY_TIMEOUT_MS = 10_000;
/** How long a SIGTERM may take before the process is killed. */
const STOP_TIMEOUT_MS = 5_000;
/** Bytes of etcd's output kept for error messages. */
const TAIL_BYTES = 4096;

/** A running etcd started by {@linkcode startEtcd}. */
export interface EtcdProcess extends AsyncDisposable {
  /** Where clients connect: `"127.0.0.1:<port>"`. */
  readonly endpoint: string;
  /** The endpoint with its scheme: `"http://..."`, or `"https://..."` with TLS. */
  readonly url: string;
  /** The temp dir holding `data/` and `etcd.log`; removed by `close()`. */
  readonly dir: string;
  /** Stops etcd with SIGTERM and waits for it to exit; the data dir stays. */
  stop(): Promise<void>;
  /** Kills etcd with SIGKILL and waits for it to exit; the data dir stays. */
  kill(): Promise<void>;
  /** Freezes etcd with SIGSTOP: it still accepts connections but never answers. */
  pause(): void;
  /** Lets a paused etcd run again (SIGCONT). */
  resume(): void;
  /**
   * Starts etcd again on the same ports and waits until it is ready; with
   * `empty`, on a new empty data dir, as after a lost disk: etcd then knows
   * no key and no lease.
   */
  restart(options?: { empty?: boolean }): Promise<void>;
  /** Stops etcd and removes its temp dir. */
  close(): Promise<void>;
}

/**
 * Starts etcd (found on PATH) on free loopback ports with a fresh data dir and
 * resolves once it answers `/health`. Retries with new ports when another
 * process took one of them between picking and binding.
 *
 * @example Use a throwaway etcd in a test
 * ```ts ignore
 * import { startEtcd } from "./etcd.ts";
 *
 * await using etcd = await startEtcd();
 * console.log(etcd.endpoint); // "127.0.0.1:41234"
 * ```
 */
export async function startEtcd(options: { tls?: EtcdTls } = {}): Promise<EtcdProcess> {
  for (let attempt = 1;; attempt++) {
    const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "mccache-etcd-" });
    const client = freePort();
    const peer = freePort();
    const etcd = new EtcdServer(dir, client, peer, options.tls);
    try {
      await etcd.start();
      return etcd;
    } catch (error) {
      await etcd.close();
      const portTaken = /address already in use/.test(String(error));
      if (!portTaken || attempt === 3) throw error;
    }
  }
}

/** Where a member of a multi-member etcd cluster sits in it. */
interface ClusterMember {
  name: string;
  /** `--initial-cluster`: every member's name and peer URL. */
  initialCluster: string;
  /** `--initial-cluster-token`: unique per cluster, so that no other test's members join it. */
  token: string;
}

/** A running etcd cluster started by {@linkcode startEtcdCluster}. */
export interface EtcdCluster extends AsyncDisposable {
  readonly members: readonly EtcdProcess[];
  /** Every member's client endpoint, as a `--etcd` flag takes them: `"127.0.0.1:a,127.0.0.1:b,…"`. */
  readonly endpoints: string;
  /** The member that leads now, as etcd's maintenance API reports it. */
  leader(): Promise<EtcdProcess>;
  /** Stops every member and removes their temp dirs. */
  close(): Promise<void>;
}

/**
 * Starts a `size`-member etcd cluster on free loopback ports (each member
 * with its own temp dir) and resolves once every member answers `/health`,
 * which it does only once the cluster has elected a leader.
 *
 * @example Kill the leader of a three-member cluster
 * ```ts ignore
 * import { startEtcdCluster } from "./etcd.ts";
 *
 * await using etcd = await startEtcdCluster(3);
 * await (await etcd.leader()).kill();
 * ```
 */
export async function startEtcdCluster(size = 3): Promise<EtcdCluster> {
  for (let attempt = 1;; attempt++) {
    try {
      return await tryEtcdCluster(size);
    } catch (error) {
      // Another process took a port between picking and binding.
      if (!/address already in use/.test(String(error)) || attempt === 3) throw error;
    }
  }
}

async function tryEtcdCluster(size: number): Promise<EtcdCluster> {
  const clients = Array.from({ length: size }, freePort);
  const peers = Array.from({ length: size }, freePort);
  const initialCluster = peers.map((port, i) => `m${i}=http://127.0.0.1:${port}`).join(",");
  const token = `mccache-test-${crypto.randomUUID()}`;
  const members: EtcdServer[] = [];
  for (let i = 0; i < size; i++) {
    const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: `mccache-etcd-m${i}-` });
    const member = { name: `m${i}`, initialCluster, token };
    members.push(new EtcdServer(dir, clients[i], peers[i], undefined, member));
  }
  const close = async () => {
    await Promise.all(members.map((member) => member.close()));
  };
  // Each member waits for the others to elect a leader: start them together.
  const started = await Promise.allSettled(members.map((member) => member.start()));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failed) {
    await close();
    throw failed.reason;
  }
  return {
    members,
    endpoints: members.map((member) => member.endpoint).join(","),
    leader: () => leaderOf(members),
    close,
    [Symbol.asyncDispose]: close,
  };
}

// Asks each member that runs for its status: the one whose id is the
// leader's it reports leads.
async function leaderOf(members: readonly EtcdProcess[]): Promise<EtcdProcess> {
  for (const member of members) {
    const client = new Etcd3({ hosts: member.url });
    try {
      const status = await client.maintenance.status();
      if (status.leader === status.header.member_id) return member;
    } catch {
      // Not running; another member answers.
    } finally {
      client.close();
    }
  }
  throw new Error(`No etcd member reports itself as the leader: ${members.map((m) => m.endpoint)}`);
}

/** Files for an etcd that serves TLS (and, with `clientCertAuth`, wants client certificates). */
export interface EtcdTls {
  cert: string;
  key: string;
  ca: string;
  clientCertAuth?: boolean;
}

class EtcdServer implements EtcdProcess {
  readonly endpoint: string;
  readonly url: string;
  readonly dir: string;
  #tls: EtcdTls | undefined;
  #health: Deno.HttpClient | undefined;
  #clientPort: number;
  #peerPort: number;
  #child?: Deno.ChildProcess;
  #exited?: Deno.CommandStatus;
  #drained: Promise<void> = Promise.resolve();
  #tail = new OutputTail(TAIL_BYTES);
  #closed = false;

  #member: ClusterMember | undefined;

  constructor(
    dir: string,
    clientPort: number,
    peerPort: number,
    tls?: EtcdTls,
    member?: ClusterMember,
  ) {
    this.dir = dir;
    this.#member = member;
    this.#clientPort = clientPort;
    this.#peerPort = peerPort;
    this.#tls = tls;
    this.endpoint = `127.0.0.1:${clientPort}`;
    this.url = `${tls ? "https" : "http"}://${this.endpoint}`;
    if (tls) {
      const read = (path: string) => Deno.readTextFileSync(path);
      this.#health = Deno.createHttpClient({
        caCerts: [read(tls.ca)],
        ...(tls.clientCertAuth ? { cert: read(tls.cert), key: read(tls.key) } : {}),
      });
    }
  }

  async start(): Promise<void> {
    const log = await Deno.open(`${this.dir}/etcd.log`, {
      write: true,
      create: true,
      append: true,
    });
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command("etcd", {
        args: this.#args(),
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
    } catch (error) {
      log.close();
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      throw new Error(
        "Cannot start etcd: no etcd on PATH; install it with: apt-get update && apt-get install -y etcd-server",
      );
    }
    this.#child = child;
    this.#exited = undefined;
    child.status.then((status) => this.#exited = status);
    this.#drained = drain(child, log, this.#tail);
    await this.#waitReady();
  }

  #args(): string[] {
    const client = this.url;
    const tls = this.#tls;
    const tlsArgs = tls
      ? [
        ["--cert-file", tls.cert],
        ["--key-file", tls.key],
        ...(tls.clientCertAuth ? [["--client-cert-auth"], ["--trusted-ca-file", tls.ca]] : []),
      ]
      : [];
    const peer = `http://127.0.0.1:${this.#peerPort}`;
    const member = this.#member;
    // A single member never loses its leader to a missed heartbeat, so a
    // short election timeout is safe and makes each (re)start take ~0.1 s
    // instead of ~1 s. Members of a cluster keep etcd's defaults, which a
    // busy machine does not turn into spurious elections.
    const timing = member ? [] : [["--heartbeat-interval", "10"], ["--election-timeout", "100"]];
    const cluster = member
      ? [["--initial-cluster", member.initialCluster], ["--initial-cluster-token", member.token]]
      : [["--initial-cluster", `default=${peer}`]];
    return [
      ["--name", member?.name ?? "default"],
      ["--data-dir", `${this.dir}/data`],
      ["--listen-client-urls", client],
      ["--advertise-client-urls", client],
      ["--listen-peer-urls", peer],
      ["--initial-advertise-peer-urls", peer],
      ...cluster,
      ["--logger", "zap"],
      ["--log-outputs", "stderr"],
      ...timing,
      ...tlsArgs,
    ].flat();
  }

  // Polls /health rather than waiting for a log line: it is what etcd
  // documents, and it only says "true" once the member has a leader.
  async #waitReady(): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    let last = "no answer";
    while (this.#exited === undefined && Date.now() < deadline) {
      try {
        const response = await fetch(`${this.url}/health`, {
          signal: AbortSignal.timeout(500),
          client: this.#health,
        });
        const body = await response.text();
        if (JSON.parse(body).health === "true") return;
        last = body;
      } catch (error) {
        last = String(error);
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    const why = this.#exited ? `exited with code ${this.#exited.code}` : `not ready (${last})`;
    await this.kill();
    throw new Error(
      `etcd at ${this.endpoint} ${why} within ${READY_TIMEOUT_MS} ms; end of its log:\n${this.#tail}`,
    );
  }

  stop(): Promise<void> {
    return this.#signal("SIGTERM");
  }

  kill(): Promise<void> {
    return this.#signal("SIGKILL");
  }

  pause(): void {
    this.#child?.kill("SIGSTOP");
  }

  resume(): void {
    this.#child?.kill("SIGCONT");
  }

  async #signal(signal: Deno.Signal): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#child = undefined;
    try {
      child.kill(signal);
      // A paused etcd acts on SIGTERM only once it runs again.
      if (signal !== "SIGKILL") child.kill("SIGCONT");
    } catch {
      // It has exited already.
    }
    // A hung etcd must not hang the test run.
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* exited meanwhile */ }
    }, STOP_TIMEOUT_MS);
    await child.status.finally(() => clearTimeout(timer));
    await this.#drained;
  }

  // While etcd was down, any process's outgoing connection may have been
  // given one of its ports as a local port. A new empty single member may
  // move to another peer port; the client port must stay, so wait for it.
  async restart(options: { empty?: boolean } = {}): Promise<void> {
    await this.stop();
    for (let attempt = 1;; attempt++) {
      if (options.empty) await Deno.remove(`${this.dir}/data`, { recursive: true }).catch(() => {});
      if (options.empty && this.#member === undefined) this.#movePeerPort();
      try {
        return await this.start();
      } catch (error) {
        if (!/address already in use/.test(String(error)) || attempt === 20) throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  #movePeerPort(): void {
    this.#peerPort = freePort();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.stop();
    this.#health?.close();
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Turns authentication on in `etcd`: a user "root" (etcd's superuser) with
 * `password`. Clients then need the user and password.
 */
export async function enableEtcdAuth(
  etcd: EtcdProcess,
  password: string,
  tls?: EtcdTls,
): Promise<void> {
  const read = (path: string) => Buffer.from(Deno.readFileSync(path));
  const client = new Etcd3({
    // Deno checks TLS certificates for DNS names only.
    hosts: tls ? etcd.url.replace("127.0.0.1", "localhost") : etcd.url,
    ...(tls
      ? {
        credentials: {
          rootCertificate: read(tls.ca),
          ...(tls.clientCertAuth ? { privateKey: read(tls.key), certChain: read(tls.cert) } : {}),
        },
      }
      : {}),
  });
  try {
    await client.role("root").create();
    await client.user("root").create(password);
    await client.user("root").addRole("root");
    await client.auth.authEnable();
  } finally {
    client.close();
  }
}
