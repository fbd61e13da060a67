// What a node or a gateway needs Deno to allow, derived from its flags: the
// launcher (cli/start.ts) grants exactly that, and a process started some
// other way checks it at start-up, so that a missing permission is one line
// then rather than an error per request later.
import { parseHostPort } from "../src/parse.ts";
import { type GatewayFlags, type NodeFlags, SECRET_ENV, UsageError } from "./_flags.ts";

/** One permission a process needs, and what for (for the error message). */
interface Need {
  what: string;
  value: string;
  /** Granted by the launcher but not required: a --groups module may not import the core. */
  optional?: boolean;
}

/** The permissions a node or gateway needs. */
export interface Needs {
  /** Addresses to listen on or connect to (`host:port`). */
  net: Need[];
  /** Members come from etcd, so any host may be one: all of the network. */
  anyHost: boolean;
  read: Need[];
  env: string[];
}

// grpc-js reads these when it loads.
const GRPC_ENV = ["GRPC_*", "grpc_proxy", "https_proxy", "http_proxy", "no_grpc_proxy", "no_proxy"];

type SharedFlags =
  & Pick<
    NodeFlags,
    "etcd" | "peers" | "tls-cert" | "tls-key" | "tls-ca" | "etcd-ca" | "etcd-cert" | "etcd-key"
  >
  & { "etcd-password-file"?: string; listen?: string; addr: string };

// A permission's host: `host:port`, or the host alone for port 0 (any port).
function hostOf(endpoint: string, flag: string): string {
  const { hostname, port } = parseHostPort(endpoint, flag, { allowZero: true });
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  return port === 0 ? host : `${host}:${port}`;
}

function shared(flags: SharedFlags): Needs {
  const listen = flags.listen ?? flags.addr;
  const flag = flags.listen === undefined ? "--addr" : "--listen";
  const net: Need[] = [{ what: "listen on", value: hostOf(listen, flag) }];
  if (flags.peers !== undefined) {
    for (const peer of flags.peers.split(",").filter((p) => p.trim() !== "")) {
      net.push({ what: "reach the member", value: hostOf(peer.trim(), "--peers member") });
    }
  } else {
    for (const endpoint of (flags.etcd ?? "127.0.0.1:2379").split(",")) {
      const hostPort = endpoint.trim().replace(/^https?:\/\//, "");
      net.push({ what: "reach etcd at", value: hostOf(hostPort, "--etcd endpoint") });
    }
  }
  const files = [
    "tls-cert",
    "tls-key",
    "tls-ca",
    "etcd-ca",
    "etcd-cert",
    "etcd-key",
    "etcd-password-file",
  ] as const;
  const read: Need[] = [{ what: "read its dependencies in", value: "./node_modules" }];
  for (const flag of files) {
    const path = flags[flag];
    if (path !== undefined) read.push({ what: `read --${flag}`, value: path });
  }
  const env = [...GRPC_ENV, SECRET_ENV.etcdPassword];
  return { net, anyHost: flags.peers === undefined, read, env };
}

/** What a node needs, from its flags (validated ones: it throws on bad addresses). */
export function nodeNeeds(flags: NodeFlags): Needs {
  const needs = shared(flags);
  if (flags["http-addr"] !== undefined) {
    needs.net.push({ what: "listen on", value: hostOf(flags["http-addr"], "--http-addr") });
  }
  for (const spec of flags.origin ?? []) {
    const url = URL.parse(spec.slice(spec.indexOf("=") + 1).replace("{key}", "key"));
    // A bad URL is reported when its group is made.
    if (url === null || (url.protocol !== "http:" && url.protocol !== "https:")) continue;
    const port = url.port || (url.protocol === "https:" ? "443" : "80");
    needs.net.push({ what: "reach the origin", value: `${url.hostname}:${port}` });
  }
  if (flags.groups !== undefined) {
    // The module, and what such a module imports from mccache.
    const dir = flags.groups.includes("/")
      ? flags.groups.slice(0, flags.groups.lastIndexOf("/"))
      : ".";
    needs.read.push({ what: "load --groups from", value: dir });
    needs.read.push({ what: "load mccache's core from", value: "./mod.ts", optional: true });
    needs.read.push({ what: "load mccache's core from", value: "./src", optional: true });
  }
  return needs;
}

/** What a gateway needs, from its flags. */
export function gatewayNeeds(flags: GatewayFlags): Needs {
  const needs = shared(flags);
  if (flags["token-file"] !== undefined) {
    needs.read.push({ what: "read --token-file", value: flags["token-file"] });
  }
  needs.env.push(SECRET_ENV.token);
  return needs;
}

/** The `deno run` permission flags that grant `needs` and nothing more. */
export function permissionFlags(needs: Needs): string[] {
  const unique = (values: string[]) => [...new Set(values)].join(",");
  return [
    needs.anyHost ? "--allow-net" : `--allow-net=${unique(needs.net.map((n) => n.value))}`,
    `--allow-read=${unique(needs.read.map((n) => n.value))}`,
    `--allow-env=${unique(needs.env)}`,
  ];
}

/**
 * Throws a one-line UsageError (exit 1) naming the first permission this
 * process lacks. Environment variables are not checked: one that may not be
 * read counts as unset.
 */
export function checkPermissions(needs: Needs): void {
  const lacking = (descriptor: Deno.PermissionDescriptor) =>
    Deno.permissions.querySync(descriptor).state !== "granted";
  const hint = "deno task node and deno task gateway grant what the flags need";
  for (const { what, value } of needs.net) {
    if (lacking({ name: "net", host: value })) {
      throw new UsageError(`No permission to ${what} ${value}: add it to --allow-net (${hint})`, 1);
    }
  }
  for (const { what, value, optional } of needs.read) {
    if (!optional && lacking({ name: "read", path: value })) {
      throw new UsageError(
        `No permission to ${what} ${value}: add it to --allow-read (${hint})`,
        1,
      );
    }
  }
}
