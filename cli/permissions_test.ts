import assert from "node:assert/strict";
import { GATEWAY_FLAGS, NODE_FLAGS, parseFlags } from "./_flags.ts";
import { gatewayNeeds, nodeNeeds, permissionFlags } from "./_permissions.ts";

const GRPC_ENV = "GRPC_*,grpc_proxy,https_proxy,http_proxy,no_grpc_proxy,no_proxy";

Deno.test("The launcher grants a node and a gateway what their flags need, and no more", async (t) => {
  const node = (args: string[]) => permissionFlags(nodeNeeds(parseFlags(args, NODE_FLAGS)));
  const gateway = (args: string[]) =>
    permissionFlags(gatewayNeeds(parseFlags(args, GATEWAY_FLAGS)));
  await t.step("static members: exactly their addresses", () => {
    const peers = "10.0.0.1:8001,10.0.0.2:8001,[fd00::3]:8001";
    const args = ["--addr", "10.0.0.1:8001", "--listen", "0.0.0.0:8001", "--peers", peers];
    assert.deepEqual(
      node([...args, "--http-addr", "10.0.0.1:9101", "--origin", "u=https://db.example/u/{key}"]),
      [
        "--allow-net=0.0.0.0:8001,10.0.0.1:8001,10.0.0.2:8001,[fd00::3]:8001,10.0.0.1:9101,db.example:443",
        "--allow-read=./node_modules",
        `--allow-env=${GRPC_ENV},MCCACHE_ETCD_PASSWORD`,
      ],
    );
  });
  await t.step("etcd: members may be any host; files it reads", () => {
    const files = [
      "--tls-cert",
      "/etc/mc/n.pem",
      "--tls-key",
      "/etc/mc/n.key",
      "--tls-ca",
      "/etc/mc/ca.pem",
    ];
    assert.deepEqual(
      node(["--etcd", "https://etcd.example:2379", ...files, "--etcd-password-file", "/run/pw"]),
      [
        "--allow-net",
        "--allow-read=./node_modules,/etc/mc/n.pem,/etc/mc/n.key,/etc/mc/ca.pem,/run/pw",
        `--allow-env=${GRPC_ENV},MCCACHE_ETCD_PASSWORD`,
      ],
    );
  });
  await t.step("a --groups module and the core it imports", () => {
    const [, read] = node(["--peers", "127.0.0.1:8001", "--groups", "./my/groups.ts"]);
    assert.equal(read, "--allow-read=./node_modules,./my,./mod.ts,./src");
  });
  await t.step("a gateway: its token file and variable", () => {
    assert.deepEqual(gateway(["--peers", "127.0.0.2:8001", "--token-file", "/run/token"]), [
      "--allow-net=127.0.0.1:9999,127.0.0.2:8001",
      "--allow-read=./node_modules,/run/token",
      `--allow-env=${GRPC_ENV},MCCACHE_ETCD_PASSWORD,MCCACHE_TOKEN`,
    ]);
  });
});
