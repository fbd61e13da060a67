import assert from "node:assert/strict";
import { createEtcdClient } from "./client.ts";

Deno.test("createEtcdClient refuses TLS options that do not fit the endpoints, in one line", () => {
  const pem = new Uint8Array(1);
  const cases: [string, Parameters<typeof createEtcdClient>[0], RegExp][] = [
    ["mixed schemes", { endpoints: ["https://etcd:2379", "http://etcd:2380"] }, /all https/],
    ["TLS without https", { endpoints: ["etcd:2379"], tls: { ca: pem } }, /need https/],
    ["a cert without its key", { endpoints: ["https://etcd:2379"], tls: { cert: pem } }, /key/],
    ["an IP over https", { endpoints: ["https://10.0.0.5:2379"] }, /DNS names only/],
    ["a password without a user", { endpoints: ["etcd:2379"], password: "x" }, /together/],
  ];
  for (const [name, options, message] of cases) {
    assert.throws(() => createEtcdClient(options), (error: Error) => {
      assert.match(error.message, message, name);
      assert.doesNotMatch(error.message, /\n/);
      return error instanceof TypeError;
    });
  }
  createEtcdClient({ endpoints: ["https://etcd.example:2379"], tls: { ca: pem } }).close();
});
