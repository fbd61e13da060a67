// The cluster across network namespaces: two test hosts, each a namespace
// with its own address on a bridge that the test makes (and removes), nodes
// in them started by `deno task node`, a gateway on this host. Needs root
// and `ip netns`; where they are missing the test is skipped, saying why.
// grpc-js keeps timers after its channels close: sanitizers are off.
import assert from "node:assert/strict";
import { makeCerts } from "../src/_testing/certs.ts";
import { startTask, waitFor } from "./_cluster.ts";
import { freePort } from "../src/_testing/ports.ts";

const sanitizers = { sanitizeOps: false, sanitizeResources: false };
const tag = String(Deno.pid % 100_000);
const BRIDGE = `mcbr${tag}`;
const SUBNET = "10.231.7";
const HOSTS = [
  { ns: `mcns${tag}a`, veth: `mcv${tag}a`, ip: `${SUBNET}.2` },
  { ns: `mcns${tag}b`, veth: `mcv${tag}b`, ip: `${SUBNET}.3` },
];

function sh(script: string): { ok: boolean; output: string } {
  const { success, stdout, stderr } = new Deno.Command("sh", { args: ["-c", script] }).outputSync();
  const text = new TextDecoder().decode(success ? stdout : stderr).trim();
  return { ok: success, output: text };
}

// Why namespaces cannot be made here, or undefined when they can.
function cannotMakeNamespaces(): string | undefined {
  if (sh("id -u").output !== "0") return "not root";
  const probe = sh(`ip netns add mcprobe${tag} && ip netns del mcprobe${tag}`);
  return probe.ok ? undefined : `ip netns failed: ${probe.output.split("\n")[0]}`;
}

function makeHosts(): void {
  const steps = [
    `ip link add ${BRIDGE} type bridge`,
    `ip addr add ${SUBNET}.1/24 dev ${BRIDGE}`,
    `ip link set ${BRIDGE} up`,
    ...HOSTS.flatMap(({ ns, veth, ip }) => [
      `ip netns add ${ns}`,
      `ip link add ${veth} type veth peer name eth0 netns ${ns}`,
      `ip link set ${veth} master ${BRIDGE} up`,
      `ip -n ${ns} addr add ${ip}/24 dev eth0`,
      `ip -n ${ns} link set eth0 up`,
      `ip -n ${ns} link set lo up`,
    ]),
  ];
  const made = sh(`set -e; ${steps.join("; ")}`);
  if (!made.ok) throw new Error(`Cannot make the test hosts: ${made.output}`);
}

function removeHosts(): void {
  for (const { ns } of HOSTS) sh(`ip netns del ${ns} 2>/dev/null`);
  sh(`ip link del ${BRIDGE} 2>/dev/null`);
}

const reason = cannotMakeNamespaces();
if (reason !== undefined) console.log(`netns_test: skipped: ${reason}`);

Deno.test({
  name: "Nodes in two network namespaces and a gateway on this host serve every value over " +
    "mutual TLS; a plaintext gateway is refused",
  ignore: reason !== undefined,
  ...sanitizers,
  async fn() {
    await using certs = await makeCerts();
    makeHosts();
    try {
      const port = freePort();
      const peers = HOSTS.map(({ ip }) => `${ip}:${port}`).join(",");
      const tls = [
        "--tls-cert",
        certs.node.cert,
        "--tls-key",
        certs.node.key,
        "--tls-ca",
        certs.ca,
      ];
      const common = ["--peers", peers, "--groups", "examples/groups.ts"];
      await using _a = await startTask("node", [
        "--addr",
        `${HOSTS[0].ip}:${port}`,
        ...common,
        ...tls,
      ], {
        netns: HOSTS[0].ns,
      });
      await using _b = await startTask("node", [
        "--addr",
        `${HOSTS[1].ip}:${port}`,
        ...common,
        ...tls,
      ], {
        netns: HOSTS[1].ns,
      });
      const addr = `127.0.0.1:${freePort()}`;
      await using _gateway = await startTask("gateway", ["--addr", addr, "--peers", peers, ...tls]);
      await waitFor(
        async () => (await fetch(`http://${addr}/healthz`)).status === 200,
        "the gateway reaches the namespaces",
      );
      for (let i = 0; i < 30; i++) {
        const response = await fetch(`http://${addr}/mccache/squares/${i}`);
        assert.equal(await response.text(), String(i * i));
      }
      const plainAddr = `127.0.0.1:${freePort()}`;
      await using _plain = await startTask("gateway", [
        "--addr",
        plainAddr,
        "--peers",
        peers,
        "--timeout",
        "1s",
      ]);
      const refused = await fetch(`http://${plainAddr}/mccache/squares/3`);
      await refused.body?.cancel();
      assert.ok(refused.status >= 500, `a plaintext gateway got ${refused.status}`);
      assert.equal((await fetch(`http://${plainAddr}/healthz`)).status, 503);
    } finally {
      removeHosts();
    }
  },
});
