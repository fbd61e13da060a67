// Mutual TLS between in-process nodes and a gateway's upstream over real
// loopback sockets, with certificates made by openssl: every hop works with
// the cluster's certificates, and plaintext, certificate-less and
// foreign-CA clients are refused, on GetStream's direct path too. grpc-js
// leaves timers and sockets behind after close, so the sanitizers are off.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import * as http2 from "node:http2";
import * as grpc from "@grpc/grpc-js";
import { Group } from "../group.ts";
import { HashRing } from "../hash_ring.ts";
import { GroupRegistry } from "../registry.ts";
import { GrpcUpstream } from "./grpc_upstream.ts";
import { startNode } from "../node/node.ts";
import { makeCerts } from "../_testing/certs.ts";
import { freePort } from "../_testing/ports.ts";
import { GrpcPeer } from "./peer.ts";
import type { TlsOptions } from "./tls.ts";
import { CacheClient } from "./_proto.ts";

const sanitizers = { sanitizeOps: false, sanitizeResources: false };

async function tlsNodes(tls: TlsOptions, count: number) {
  const addrs = Array.from({ length: count }, () => `127.0.0.1:${freePort()}`);
  const loads: string[] = [];
  const nodes = await Promise.all(addrs.map((addr) => {
    const registry = new GroupRegistry();
    new Group({
      name: "g",
      maxBytes: 1 << 20,
      registry,
      getter: (key) => {
        loads.push(`${addr} ${key}`);
        return `value of ${key}`;
      },
    });
    return startNode({ addr, registry, peers: addrs, tls });
  }));
  return { nodes, addrs, loads };
}

// A raw HTTP/2 client, as one that bypasses grpc-js would connect.
function rawGetStream(addr: string, options: http2.SecureClientSessionOptions): Promise<string> {
  return new Promise((resolve) => {
    const session = http2.connect(`https://${addr}`, { ...options, servername: "mccache" });
    session.on("error", (error) => resolve(`refused: ${error.message}`));
    const stream = session.request({
      ":method": "POST",
      ":path": "/mccache.v1.Cache/GetStream",
      "content-type": "application/grpc",
      te: "trailers",
    });
    stream.on("response", (headers) => {
      resolve(`answered ${headers[":status"]}`);
      session.destroy();
    });
    stream.on("error", (error) => resolve(`refused: ${error.message}`));
  });
}

Deno.test({
  name: "With mutual TLS every hop works, and plaintext, certificate-less and foreign clients " +
    "are refused on every path",
  ...sanitizers,
  async fn(t) {
    await using certs = await makeCerts();
    const tls: TlsOptions = {
      cert: certs.read(certs.node.cert),
      key: certs.read(certs.node.key),
      ca: certs.read(certs.ca),
    };
    const { nodes, addrs, loads } = await tlsNodes(tls, 2);
    try {
      await t.step("gateway to node and node to node", async () => {
        const upstream = new GrpcUpstream({ members: addrs, tls });
        const ring = new HashRing();
        ring.add(...addrs);
        const keys = Array.from({ length: 20 }, (_, i) => `k${i}`);
        try {
          const deadline = Date.now() + 5000;
          const values = await Promise.all(keys.map((key) => upstream.get("g", key, { deadline })));
          values.forEach(({ value }, i) =>
            assert.equal(new TextDecoder().decode(value), `value of k${i}`)
          );
        } finally {
          upstream.close();
        }
        // A peer with the cluster's certificate: the owner loads, once.
        const peer = new GrpcPeer(addrs[0], { tls });
        try {
          const key = keys.find((k) => ring.get(k) === addrs[0])!;
          const { value } = await peer.get({ group: "g", key }, {});
          assert.equal(new TextDecoder().decode(value), `value of ${key}`);
        } finally {
          peer.close();
        }
        for (const key of keys) {
          assert.deepEqual(loads.filter((l) => l.endsWith(` ${key}`)), [`${ring.get(key)} ${key}`]);
        }
      });
      const refused: [string, GrpcPeer][] = [
        ["plaintext", new GrpcPeer(addrs[0], { timeout: 2000 })],
        [
          "another CA's certificate",
          new GrpcPeer(addrs[0], {
            timeout: 2000,
            tls: {
              ...tls,
              cert: certs.read(certs.foreign.cert),
              key: certs.read(certs.foreign.key),
            },
          }),
        ],
        [
          "trusting another CA",
          new GrpcPeer(addrs[0], {
            timeout: 2000,
            tls: { ...tls, ca: certs.read(certs.otherCa) },
          }),
        ],
      ];
      for (const [name, peer] of refused) {
        await t.step(name, async () => {
          try {
            await assert.rejects(peer.get({ group: "g", key: "k" }, {}), { name: "PeerError" });
          } finally {
            peer.close();
          }
        });
      }
      await t.step("no client certificate", async () => {
        const client = new CacheClient(addrs[0], grpc.credentials.createSsl(Buffer.from(tls.ca)), {
          "grpc.ssl_target_name_override": "mccache",
        });
        try {
          type Stats = (
            r: object,
            o: grpc.CallOptions,
            done: (e: grpc.ServiceError | null) => void,
          ) => void;
          const stats = (client as unknown as { Stats: Stats }).Stats.bind(client);
          const error = await new Promise<grpc.ServiceError | null>((resolve) =>
            stats({}, { deadline: Date.now() + 2000 }, resolve)
          );
          assert.equal(error?.code, grpc.status.UNAVAILABLE);
        } finally {
          client.close();
        }
      });
      await t.step("GetStream's direct path, without and with a certificate", async () => {
        const ca = Buffer.from(tls.ca);
        assert.match(await rawGetStream(addrs[0], { ca }), /^refused/);
        const cert = Buffer.from(certs.read(certs.client.cert));
        const key = Buffer.from(certs.read(certs.client.key));
        assert.equal(await rawGetStream(addrs[0], { ca, cert, key }), "answered 200");
      });
    } finally {
      await Promise.all(nodes.map((node) => node.stop()));
    }
  },
});
