// The launcher behind `deno task node` and `deno task gateway`: reads the
// flags, works out what the process needs Deno to allow (cli/_permissions.ts)
// and runs cli/node.ts or cli/gateway.ts with exactly that, passing signals
// on and exiting with its code. It loads no gRPC code and needs only to run
// deno. Usage:
//   deno run --allow-run=deno --allow-env=GRPC_DEFAULT_SSL_ROOTS_FILE_PATH cli/start.ts node|gateway [flags]
import { GATEWAY_FLAGS, NODE_FLAGS, parseFlags, UsageError } from "./_flags.ts";
import { gatewayNeeds, type Needs, nodeNeeds, permissionFlags } from "./_permissions.ts";

// V8 flags for each (docs/PERFORMANCE.md): nodes collect garbage sooner; the
// gateway's young generation holds its short-lived request objects.
export const V8_FLAGS = {
  node: "--v8-flags=--optimize-for-size",
  gateway: "--v8-flags=--max-semi-space-size=16",
};

function needsOf(kind: string, args: string[]): Needs {
  if (kind === "node") return nodeNeeds(parseFlags(args, NODE_FLAGS));
  if (kind === "gateway") return gatewayNeeds(parseFlags(args, GATEWAY_FLAGS));
  throw new UsageError(`Expected node or gateway: received ${JSON.stringify(kind)}`);
}

async function main(): Promise<number> {
  const [kind = "", ...args] = Deno.args;
  const script = `cli/${kind}.ts`;
  let permissions: string[];
  try {
    const needs = needsOf(kind, args);
    // grpc-js reads the CA file this names whenever TLS has no CA of its own.
    const roots = Deno.env.get("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH");
    if (roots) needs.read.push({ what: "read the CAs in", value: roots });
    permissions = permissionFlags(needs);
  } catch (error) {
    // As the process itself would report it.
    const message = error instanceof Error ? error.message : String(error);
    console.error(`${script}: ${message} (see ${script} --help)`);
    return 2;
  }
  const v8 = V8_FLAGS[kind as keyof typeof V8_FLAGS];
  const child = new Deno.Command("deno", {
    args: ["run", "--no-prompt", v8, ...permissions, script, ...args],
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => {
      try {
        child.kill(signal);
      } catch {
        // It has exited already.
      }
    });
  }
  // A child killed by a signal has code 128 + its number, as a shell reports it.
  return (await child.status).code;
}

if (import.meta.main) Deno.exit(await main());
