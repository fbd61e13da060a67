// The soak: mixed open-loop load (reads of origin keys, reads and writes of
// written keys) through a gateway on 3 nodes and etcd, with one node killed
// and restarted on its address every interval. Prints a line per interval
// and a summary: wrong values (must be 0), errors, and the RSS and open fds
// of every process at the start and the end. Exits 1 on a wrong value.
// Run: deno task soak [--minutes 10] [--every 1m] [--rate 300]
import { parseArgs } from "node:util";
import { parseDuration } from "../src/parse.ts";
import { startEtcd } from "../src/_testing/etcd.ts";
import {
  type NodeProcess,
  Origin,
  type Process,
  startGatewayProcess,
  startNodeProcess,
} from "./_cluster.ts";
import { failures, type LoadReport, OpenLoop, summary } from "./_load.ts";
import { freePort } from "../src/_testing/ports.ts";

const USAGE = `Usage: deno task soak [options]

Options:
  --minutes n      how long to run                                   [10]
  --every time     kill a node (SIGKILL) and restart it this often   [1m]
  --rate n         requests per second                               [300]
  -h, --help       show this help`;

const KEYS = Array.from({ length: 1000 }, (_, i) => `key-${i}`);
const WRITE_KEYS = KEYS.slice(0, 100);

function originValue(key: string): string {
  return `value of ${key}`;
}

interface Usage {
  rssMiB: number;
  fds: number;
}

// Read with sh, as the tests do: the processes are children of this one.
async function usage(pid: number): Promise<Usage> {
  const script =
    `grep VmRSS /proc/${pid}/status | tr -s ' ' | cut -d' ' -f2; ls /proc/${pid}/fd | wc -l`;
  const { stdout } = await new Deno.Command("sh", { args: ["-c", script] }).output();
  const [rssKiB, fds] = new TextDecoder().decode(stdout).trim().split("\n").map(Number);
  return { rssMiB: Math.round(rssKiB / 1024), fds };
}

async function usages(processes: Record<string, Process>): Promise<string> {
  const parts = await Promise.all(
    Object.entries(processes).map(async ([name, p]) => {
      const { rssMiB, fds } = await usage(p.pid);
      return `${name} ${rssMiB} MiB ${fds} fds`;
    }),
  );
  return parts.join(", ");
}

function add(total: LoadReport, part: LoadReport): void {
  total.sent += part.sent;
  total.ok += part.ok;
  total.reverted += part.reverted;
  total.wrong.push(...part.wrong);
  for (const [why, n] of part.failed) total.failed.set(why, (total.failed.get(why) ?? 0) + n);
  total.latencies.push(...part.latencies);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      minutes: { type: "string", default: "10" },
      every: { type: "string", default: "1m" },
      rate: { type: "string", default: "300" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const runMs = Number(values.minutes) * 60_000;
  const everyMs = parseDuration(values.every, "--every");
  const rate = Number(values.rate);
  if (!(runMs > 0) || !(everyMs > 0) || !(rate > 0)) {
    console.error(`Invalid options: ${JSON.stringify(values)}\n${USAGE}`);
    return 2;
  }

  await using etcd = await startEtcd();
  await using origin = new Origin();
  for (const key of KEYS) origin.values.set(key, originValue(key));
  const args = ["--etcd", etcd.endpoint, "--origin", `v=${origin.url}`, "--log-level", "info"];
  const nodes: NodeProcess[] = [];
  try {
    for (let i = 0; i < 3; i++) nodes.push(await startNodeProcess(args, `127.0.0.1:${freePort()}`));
    await using gateway = await startGatewayProcess(["--etcd", etcd.endpoint]);
    const base = `http://${gateway.addr}/mccache/v`;
    const processes = () => ({
      gateway,
      ...Object.fromEntries(nodes.map((n, i) => [`node${i}`, n])),
    });
    console.log(`start: ${await usages(processes())}`);

    const load = new OpenLoop({
      base,
      rate,
      readKeys: KEYS.slice(100),
      writeKeys: WRITE_KEYS,
      originValue,
    });
    const total: LoadReport = await load.phase();
    load.start();
    const started = Date.now();
    for (let round = 0; Date.now() - started < runMs; round++) {
      await new Promise((resolve) =>
        setTimeout(resolve, Math.min(everyMs, runMs - (Date.now() - started)))
      );
      const i = round % nodes.length;
      const victim = nodes[i];
      await victim.signal("SIGKILL");
      nodes[i] = await startNodeProcess(args, victim.addr);
      const part = await load.phase();
      add(total, part);
      console.log(
        `${Math.round((Date.now() - started) / 1000)} s, killed ${victim.addr}: ${summary(part)}`,
      );
    }
    add(total, await load.stop());
    total.latencies.sort((a, b) => a - b);
    console.log(`end: ${await usages(processes())}`);
    console.log(`summary: ${summary(total)}`);
    console.log(
      `wrong values: ${total.wrong.length}, errors: ${failures(total)}, ` +
        `reads that found a PUT value gone with its restarted owner: ${total.reverted}`,
    );
    for (const wrong of total.wrong.slice(0, 10)) console.log(`  wrong: ${wrong}`);
    return total.wrong.length === 0 ? 0 : 1;
  } finally {
    await Promise.all(nodes.map((node) => node[Symbol.asyncDispose]()));
  }
}

Deno.exit(await main());
