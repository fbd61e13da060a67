// Certificates for TLS tests, made with Debian's openssl in a temp dir: a
// cluster CA, certificates it signs for nodes (DNS "mccache", which clients
// check, and the loopback addresses), for clients and for etcd, and a second
// CA whose certificates the cluster must refuse.
// Needs --allow-run=openssl and --allow-read/--allow-write of /tmp.

/** Paths of one key pair and the certificate for it. */
export interface CertFiles {
  cert: string;
  key: string;
}

/** Everything a TLS test needs, as files; `close()` removes them. */
export interface TestCerts extends AsyncDisposable {
  dir: string;
  /** The cluster's CA. */
  ca: string;
  /** A certificate every node and gateway of the cluster may use. */
  node: CertFiles;
  /** A client certificate signed by the cluster's CA. */
  client: CertFiles;
  /** etcd's server certificate (DNS "localhost", IP 127.0.0.1). */
  etcd: CertFiles;
  /** Another CA, and a node certificate it signed. */
  otherCa: string;
  foreign: CertFiles;
  /** Reads a file of these as bytes. */
  read(path: string): Uint8Array;
}

async function openssl(dir: string, ...args: string[]): Promise<void> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command("openssl", { args, cwd: dir, stdout: "piped", stderr: "piped" })
      .output();
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    throw new Error(
      "Cannot make test certificates: no openssl on PATH (apt-get install -y openssl)",
    );
  }
  if (!output.success) {
    throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(output.stderr)}`);
  }
}

const KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

async function ca(dir: string, name: string): Promise<string> {
  await openssl(
    dir,
    "req",
    "-x509",
    ...KEY,
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.pem`,
    "-days",
    "2",
    "-subj",
    `/CN=${name}`,
  );
  return `${dir}/${name}.pem`;
}

async function signed(dir: string, name: string, caName: string, san: string): Promise<CertFiles> {
  await openssl(
    dir,
    "req",
    ...KEY,
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.csr`,
    "-subj",
    `/CN=${name}`,
  );
  const ext = `subjectAltName=${san}\nextendedKeyUsage=serverAuth,clientAuth\n`;
  await Deno.writeTextFile(`${dir}/${name}.ext`, ext);
  await openssl(
    dir,
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    `${caName}.pem`,
    "-CAkey",
    `${caName}.key`,
    "-CAcreateserial",
    "-out",
    `${name}.pem`,
    "-days",
    "2",
    "-extfile",
    `${name}.ext`,
  );
  return { cert: `${dir}/${name}.pem`, key: `${dir}/${name}.key` };
}

/** Makes a fresh set of test certificates. */
export async function makeCerts(): Promise<TestCerts> {
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "mccache-certs-" });
  const loopback = "IP:127.0.0.1,IP:127.0.0.2,IP:127.0.0.3";
  return {
    dir,
    ca: await ca(dir, "ca"),
    node: await signed(dir, "node", "ca", `DNS:mccache,${loopback}`),
    client: await signed(dir, "client", "ca", "DNS:client"),
    etcd: await signed(dir, "etcd", "ca", `DNS:localhost,${loopback}`),
    otherCa: await ca(dir, "other"),
    foreign: await signed(dir, "foreign", "other", `DNS:mccache,${loopback}`),
    read: (path) => Deno.readFileSync(path),
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}
