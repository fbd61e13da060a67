// A test double of a node of the Go original (../shared/SEED-WIRE.md): a
// grpc-js server that implements only /geecachepb.McCache/Get, from
// proto/geecachepb.proto, over an HTTP origin that counts its loads, and
// registered in etcd as the Go original's nodes register. It shares no code with
// mccache's nodes, so that interop tests test the wire, not our own code.
//
//   deno run --allow-net=127.0.0.1 --allow-read=./node_modules,./proto \
//     --allow-env=GRPC_*,grpc_proxy,https_proxy,http_proxy,no_grpc_proxy,no_proxy \
//     tests/go_original_node.ts --addr 127.0.0.1:8001 --origin 'http://127.0.0.1:9000/values/{key}' \
//     [--etcd 127.0.0.1:2379] [--group scores]
import { parseArgs } from "node:util";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { Etcd3 } from "etcd3";

const LEASE_TTL_SECONDS = 5; // as the Go original's nodes

const flags = parseArgs({
  args: Deno.args,
  options: {
    addr: { type: "string" },
    origin: { type: "string" },
    etcd: { type: "string" },
    group: { type: "string", default: "scores" },
  },
  strict: true,
}).values;
const addr = flags.addr!;
const origin = flags.origin!;

const definition = protoLoader.loadSync("proto/geecachepb.proto");
const service = (grpc.loadPackageDefinition(definition).geecachepb as grpc.GrpcObject)
  .McCache as grpc.ServiceClientConstructor;

// The Go original's group: loaded once per key (singleflight), kept for good.
const cache = new Map<string, Promise<Uint8Array>>();

function load(key: string): Promise<Uint8Array> {
  let value = cache.get(key);
  if (value === undefined) {
    value = fetch(origin.replace("{key}", encodeURIComponent(key)), {
      headers: { "x-mccache-node": addr },
    }).then(async (response) => {
      const body = new Uint8Array(await response.arrayBuffer());
      if (response.status === 404) throw new Error(`${key} not exist`);
      if (!response.ok) throw new Error(`origin answered ${response.status}`);
      return body;
    });
    value.catch(() => cache.delete(key)); // errors are not cached
    cache.set(key, value);
  }
  return value;
}

// The Go original's server returns plain errors: they arrive as UNKNOWN with the text.
function fail(callback: grpc.sendUnaryData<never>, message: string): void {
  callback({ code: grpc.status.UNKNOWN, details: message });
}

const server = new grpc.Server();
server.addService(service.service, {
  Get(
    call: grpc.ServerUnaryCall<{ group: string; key: string }, unknown>,
    callback: grpc.sendUnaryData<{ value: Uint8Array }>,
  ) {
    const { group, key } = call.request;
    if (key === "") return fail(callback, "key is required");
    if (group !== flags.group) return fail(callback, `no such group: ${group}`);
    load(key).then((value) => callback(null, { value }), (error) => fail(callback, error.message));
  },
});
await new Promise<void>((resolve, reject) =>
  server.bindAsync(addr, grpc.ServerCredentials.createInsecure(), (error) => {
    if (error) reject(error);
    else resolve();
  })
);

let etcd: Etcd3 | undefined;
let lease: ReturnType<Etcd3["lease"]> | undefined;
if (flags.etcd !== undefined) {
  etcd = new Etcd3({ hosts: flags.etcd });
  lease = etcd.lease(LEASE_TTL_SECONDS);
  await lease.put(`mccache/${addr}`).value(JSON.stringify({ Op: 0, Addr: addr, Metadata: null }));
}
console.error(`go original node started at ${addr}`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await lease?.revoke().catch(() => {});
  etcd?.close();
  server.forceShutdown();
  Deno.exit(0);
};
Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);
