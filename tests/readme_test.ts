// The README's library example works as printed: it is run here, with its
// `jsr:@mccache/core` import pointed at this checkout's mod.ts.
import assert from "node:assert/strict";

const ROOT = new URL("..", import.meta.url);

Deno.test("The README's library example runs and caches its own keys", async () => {
  const readme = await Deno.readTextFile(new URL("README.md", ROOT));
  const section = readme.slice(readme.indexOf("## Use the core as a library"));
  const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(code?.includes('from "jsr:@mccache/core"'), "the example imports the package");
  const program = code!.replace(
    '"jsr:@mccache/core"',
    JSON.stringify(new URL("mod.ts", ROOT).href),
  );
  const file = await Deno.makeTempFile({ dir: "/tmp", suffix: ".ts" });
  try {
    await Deno.writeTextFile(file, program);
    const { code: exit, stdout, stderr } = await new Deno.Command("deno", {
      args: ["run", "--no-prompt", `--allow-read=${ROOT.pathname}`, file],
      env: { NO_COLOR: "1" },
    }).output();
    const out = new TextDecoder().decode(stdout);
    assert.equal(exit, 0, new TextDecoder().decode(stderr));
    assert.deepEqual(out.trim().split("\n"), [
      "Tom 630",
      "Jack 589",
      "Tom 630",
      "Sam 567",
      "Tom 630",
      "3 loads for 5 gets",
    ]);
  } finally {
    await Deno.remove(file);
  }
});
