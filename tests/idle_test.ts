// A node closes a connection that carried no call for --idle-timeout
// (gRPC's max_connection_idle: a GOAWAY, then the close), so idle clients
// cannot hold its sockets forever. A real node process, a raw HTTP/2 client.
import assert from "node:assert/strict";
import http2 from "node:http2";
import { startNodeProcess } from "./_cluster.ts";
import { freePort } from "../src/_testing/ports.ts";

const sanitizers = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name: "A node closes a connection idle for --idle-timeout, after a GOAWAY",
  ...sanitizers,
  async fn() {
    const addr = `127.0.0.1:${freePort()}`;
    await using _node = await startNodeProcess(["--peers", addr, "--idle-timeout", "500ms"], addr);
    const session = http2.connect(`http://${addr}`);
    const goaway = new Promise<void>((resolve) => session.once("goaway", () => resolve()));
    const closed = new Promise<void>((resolve) => session.once("close", () => resolve()));
    // One call, so the connection is known to work before it goes idle.
    const stream = session.request({
      ":method": "POST",
      ":path": "/mccache.v1.Cache/Stats",
      "content-type": "application/grpc",
      te: "trailers",
    });
    stream.end(new Uint8Array(5)); // an empty message: flag 0, length 0
    const status = await new Promise<string>((resolve, reject) => {
      stream.on("trailers", (trailers) => resolve(String(trailers["grpc-status"])));
      stream.on("response", (headers) => {
        if (headers["grpc-status"] !== undefined) resolve(String(headers["grpc-status"]));
      });
      stream.on("error", reject);
      stream.resume();
    });
    assert.equal(status, "0");
    // A guard, so that a node that never closes fails the test instead of hanging it.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const guard = new Promise<"open">((resolve) =>
      timer = setTimeout(() => resolve("open"), 30_000)
    );
    const outcome = await Promise.race([Promise.all([goaway, closed]).then(() => "closed"), guard]);
    clearTimeout(timer);
    session.destroy();
    assert.equal(outcome, "closed");
  },
});
