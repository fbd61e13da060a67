/**
 * Mutual TLS for every gRPC hop: a node's server requires a client
 * certificate signed by the cluster's CA, and every client (gateway → node,
 * node → node) presents its own and checks the server's against that CA.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import * as grpc from "@grpc/grpc-js";

/** PEM bytes of this process's certificate and key, and of the cluster's CA. */
export interface TlsOptions {
  /** This process's certificate chain (PEM). */
  cert: Uint8Array;
  /** Its private key (PEM). */
  key: Uint8Array;
  /** The CA that signs every certificate of the cluster (PEM). */
  ca: Uint8Array;
  /**
   * The name every node's certificate carries (a DNS subject alternative
   * name) and that clients check it for. One name for the whole cluster:
   * members are reached by address, and Deno's TLS does not check a
   * certificate for an IP address.
   * @default {"mccache"}
   */
  serverName?: string;
}

/** The default {@linkcode TlsOptions.serverName}. */
export const DEFAULT_SERVER_NAME = "mccache";

/**
 * Credentials for a node's gRPC server: plaintext without `tls`, else TLS
 * that refuses clients without a certificate signed by `tls.ca`.
 *
 * @example
 * ```ts ignore
 * import * as grpc from "@grpc/grpc-js";
 * import { serverCredentials } from "./tls.ts";
 *
 * const read = (f: string) => Deno.readFileSync(f);
 * const tls = { cert: read("node.pem"), key: read("node.key"), ca: read("ca.pem") };
 * new grpc.Server().bindAsync("0.0.0.0:8001", serverCredentials(tls), () => {});
 * ```
 */
export function serverCredentials(tls: TlsOptions | undefined): grpc.ServerCredentials {
  if (tls === undefined) return grpc.ServerCredentials.createInsecure();
  const pair = { cert_chain: Buffer.from(tls.cert), private_key: Buffer.from(tls.key) };
  return grpc.ServerCredentials.createSsl(Buffer.from(tls.ca), [pair], true);
}

/**
 * Credentials and channel options for a client of nodes: plaintext without
 * `tls`, else TLS that presents `tls.cert` and accepts only servers whose
 * certificate `tls.ca` signed for `tls.serverName`.
 *
 * @example
 * ```ts ignore
 * import * as grpc from "@grpc/grpc-js";
 * import { clientCredentials } from "./tls.ts";
 *
 * const { credentials, options } = clientCredentials(tls);
 * const client = new grpc.Client("127.0.0.1:8001", credentials, options);
 * ```
 */
export function clientCredentials(
  tls: TlsOptions | undefined,
): { credentials: grpc.ChannelCredentials; options: grpc.ChannelOptions } {
  if (tls === undefined) return { credentials: grpc.credentials.createInsecure(), options: {} };
  const name = tls.serverName ?? DEFAULT_SERVER_NAME;
  return {
    credentials: grpc.credentials.createSsl(
      Buffer.from(tls.ca),
      Buffer.from(tls.key),
      Buffer.from(tls.cert),
    ),
    options: { "grpc.ssl_target_name_override": name, "grpc.default_authority": name },
  };
}
