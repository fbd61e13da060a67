// Keeps the published docs complete: `deno doc --lint` over every entry point
// of deno.json's "exports" at once (a type exported from any of them counts
// as public), failing on any error but those listed below.
// Run by `deno task check`; exits 1 listing what is new, or an exception that
// no longer occurs (so that it is dropped once fixed).

interface Exception {
  kind: string;
  message: string;
  why: string;
}

// deno doc accepts no public signature that names a dependency's type: not
// the type itself, an alias of it, an interface or class extending it, nor
// `typeof`/`InstanceType` of it; re-exporting the type makes deno doc lint
// the dependency's declarations. A structural interface or a handle of our
// own stands in (grpc.Server, ChannelOptions, ServiceError, prom-client's
// Registry, etcd3's Etcd3 behind EtcdClient). Add an exception here only with
// the reason no such stand-in fits.
const EXCEPTIONS: Exception[] = [];

const root = new URL("..", import.meta.url);
const config = JSON.parse(Deno.readTextFileSync(new URL("deno.json", root)));
const entries = Object.values(config.exports as Record<string, string>);

const { code, stdout, stderr } = await new Deno.Command("deno", {
  args: ["doc", "--lint", ...entries],
  cwd: root,
  env: { NO_COLOR: "1" },
  stdout: "piped",
  stderr: "piped",
}).output();
const output = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);

// Each error is `error[kind]: message` and, on the next line, `--> file:line:col`.
const errors = [...output.matchAll(/^error\[([\w-]+)\]: (.*)\n\s*--> (.*)$/gm)].map(
  ([, kind, message, where]) => ({ kind, message, where: where.replace(root.pathname, "") }),
);
const found = Number(/^error: Found (\d+) documentation lint errors?\./m.exec(output)?.[1] ?? 0);
if (found !== errors.length || (code !== 0 && found === 0)) {
  console.error(output);
  console.error(
    `deno doc --lint failed, or reported ${found} errors of which ${errors.length} parsed`,
  );
  Deno.exit(1);
}

const allowed = (e: { kind: string; message: string }) =>
  EXCEPTIONS.some((x) => x.kind === e.kind && x.message === e.message);
const problems = errors.filter((e) => !allowed(e)).map((e) =>
  `${e.where}: ${e.kind}: ${e.message}`
);
for (const x of EXCEPTIONS) {
  if (!errors.some((e) => e.kind === x.kind && e.message === x.message)) {
    problems.push(`no longer reported, drop it from EXCEPTIONS: ${x.kind}: ${x.message}`);
  }
}
if (problems.length > 0) {
  console.error(`deno doc --lint ${entries.join(" ")}:\n${problems.join("\n")}`);
  Deno.exit(1);
}
console.log(
  `Docs complete: deno doc --lint over ${entries.length} entry points, ` +
    `${EXCEPTIONS.length} known exceptions.`,
);
