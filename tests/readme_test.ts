// What README.md and docs/ claim, checked where that is cheap: the library
// examples work (the core's is run; the adapters' imports exist), the links
// and tasks exist, the flags are real, the README stays short, and the docs
// hold dated figures rather than a diary.
import assert from "node:assert/strict";

const ROOT = new URL("..", import.meta.url);
const MAX_README_LINES = 200;
const DOCS = ["docs/PERFORMANCE.md", "docs/RELIABILITY.md", "docs/SECURITY.md", "docs/METRICS.md"];

function read(path: string): Promise<string> {
  return Deno.readTextFile(new URL(path, ROOT));
}

/** The text outside fenced code blocks. */
function prose(markdown: string): string {
  return markdown.replace(/^```[^\n]*\n[\s\S]*?^```$/gm, "");
}

function config(): Promise<{ exports: Record<string, string>; tasks: Record<string, string> }> {
  return read("deno.json").then(JSON.parse);
}

/** Maps `jsr:@mccache/core[/sub]` to this checkout's module, by deno.json's exports. */
function localModule(exports: Record<string, string>, specifier: string): URL {
  const sub = specifier.slice("jsr:@mccache/core".length);
  const path = exports[sub === "" ? "." : `.${sub}`];
  assert.ok(path, `${specifier} is an export of deno.json`);
  return new URL(path, ROOT);
}

Deno.test("The README's library example runs and caches its own keys", async () => {
  const readme = await read("README.md");
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

Deno.test({
  name: "Every name the README imports or lists from @mccache/core and its subpaths is exported",
  // grpc-js and etcd3 may keep handles once loaded; nothing here opens one.
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const readme = await read("README.md");
    const { exports } = await config();
    const wanted = new Map<string, Set<string>>();
    const want = (specifier: string, names: string[]) => {
      const set = wanted.get(specifier) ?? new Set();
      for (const name of names) set.add(name);
      wanted.set(specifier, set);
    };
    for (const [, names, specifier] of readme.matchAll(/import \{([^}]*)\} from "(jsr:[^"]+)"/g)) {
      want(specifier, names.split(",").map((n) => n.trim().replace(/^type /, "")).filter(Boolean));
    }
    for (
      const [, specifier, rest] of readme.matchAll(/^\| `(jsr:@mccache\/core[^`]*)` *\|(.*)$/gm)
    ) {
      want(
        specifier,
        [...rest.matchAll(/`([A-Z][A-Za-z]+|[a-z]+[A-Z][A-Za-z]*)`/g)].map((m) => m[1]),
      );
    }
    for (const sub of ["/grpc", "/etcd", "/node", "/gateway"]) {
      assert.ok(wanted.has(`jsr:@mccache/core${sub}`), `the README shows ${sub}`);
    }
    for (const [specifier, names] of wanted) {
      const module = await import(localModule(exports, specifier).href);
      for (const name of names) assert.ok(name in module, `${specifier} exports ${name}`);
    }
  },
});

Deno.test("README.md stays short and draws the parts and a GET's path", async () => {
  const readme = await read("README.md");
  const lines = readme.trimEnd().split("\n").length;
  assert.ok(
    lines <= MAX_README_LINES,
    `README.md has ${lines} lines (at most ${MAX_README_LINES})`,
  );
  const diagrams = [...readme.matchAll(/^```mermaid\n(\w+)/gm)].map((m) => m[1]);
  assert.ok(diagrams.includes("flowchart"), "a flowchart of the parts");
  assert.ok(diagrams.includes("sequenceDiagram"), "a sequence diagram of a GET");
});

Deno.test("Every relative link in README.md, docs/ and CHANGELOG.md leads to a file or heading", async () => {
  const readme = await read("README.md");
  for (const doc of [...DOCS, "CHANGELOG.md"]) {
    assert.ok(readme.includes(`](${doc})`), `README.md links ${doc}`);
  }
  for (const path of ["README.md", "CHANGELOG.md", ...DOCS]) {
    const text = await read(path);
    const headings = new Set(
      [...text.matchAll(/^#+ (.*)$/gm)].map((m) =>
        m[1].toLowerCase().replace(/[^\w\- ]/g, "").replaceAll(" ", "-")
      ),
    );
    for (const [, target] of prose(text).matchAll(/\]\(([^)]+)\)/g)) {
      if (/^[a-z]+:/.test(target)) continue;
      const [file, anchor] = target.split("#");
      if (file !== "") {
        const stat = await Deno.stat(new URL(file, new URL(path, ROOT)));
        assert.ok(stat.isFile, `${path} links ${target}`);
      } else assert.ok(headings.has(anchor), `${path} links a heading ${target}`);
    }
  }
});

Deno.test("Every deno task the docs name exists in deno.json", async () => {
  const { tasks } = await config();
  for (const path of ["README.md", "CHANGELOG.md", ...DOCS]) {
    const text = await read(path);
    for (const [, task] of text.matchAll(/deno task ([\w:-]+)/g)) {
      assert.ok(task in tasks, `${path}: deno task ${task}`);
    }
  }
});

Deno.test({
  name:
    "Every flag the README names outside its code blocks is in the node's, gateway's or demo's --help",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const help = await Promise.all(["node", "gateway", "demo"].map(async (cli) => {
      const { stdout } = await new Deno.Command("deno", {
        args: ["run", "-A", new URL(`cli/${cli}.ts`, ROOT).pathname, "--help"],
        env: { NO_COLOR: "1" },
      }).output();
      return new TextDecoder().decode(stdout);
    }));
    const known = new Set(help.join("\n").match(/--[a-z][\w-]*/g));
    known.add("--optimize-for-size"); // the V8 flag `deno task node` runs with
    const readme = prose(await read("README.md"));
    for (const [flag] of readme.matchAll(/(?<![\w-])--[a-z][\w-]*/g)) {
      assert.ok(known.has(flag), `${flag} is a flag of the CLIs`);
    }
  },
});

Deno.test("The docs name the Go original one way and hold no session diary", async () => {
  const banned = [
    /original Go mccache/i,
    /\bGo mccache\b/i,
    /\bthe seed\b/i,
    /the same evening/i,
    /the session before/i,
    /this session/i,
    /earlier the same day/i,
  ];
  for (const path of ["README.md", "CHANGELOG.md", ...DOCS]) {
    const text = await read(path);
    for (const pattern of banned) assert.doesNotMatch(text, pattern, path);
  }
});

Deno.test("docs/PERFORMANCE.md: every section with a table has a date and the command that made it", async () => {
  const text = await read("docs/PERFORMANCE.md");
  for (const section of text.split(/^## /m).slice(1)) {
    if (!/^\|.*\|$/m.test(section)) continue;
    const title = section.slice(0, section.indexOf("\n"));
    assert.match(section, /\b20\d\d-\d\d-\d\d\b/, `${title}: a date`);
    assert.match(section, /`deno (task|bench|run) [^`]*`/, `${title}: a command`);
  }
});

Deno.test("CHANGELOG.md keeps the Keep a Changelog form", async () => {
  const text = await read("CHANGELOG.md");
  assert.match(text, /^# Changelog\n/);
  assert.match(text, /^## \[Unreleased\]$/m);
  for (const [, heading] of text.matchAll(/^### (.*)$/gm)) {
    assert.ok(
      ["Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"].includes(heading),
      `### ${heading}`,
    );
  }
});
