import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** PEM files for a TLS test: one CA, a server certificate for 127.0.0.1, a client certificate. */
export interface TestPki {
  readonly ca: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
  /** A second, unrelated CA (for "wrong trust anchor" tests). */
  readonly otherCa: string;
}

function openssl(dir: string, args: string[]): void {
  const p = Bun.spawnSync(["openssl", ...args], { cwd: dir, stderr: "pipe", stdout: "ignore" });
  if (p.exitCode !== 0) throw new Error(`openssl ${args[0]} failed: ${p.stderr.toString()}`);
}

/** Generates a throw-away P-256 PKI with the openssl CLI (about 0.1 s). */
export function createTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), "asterism-pki-"));
  try {
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    for (const ca of ["ca", "other-ca"])
      openssl(dir, [
        "req",
        "-x509",
        ...ec,
        "-keyout",
        `${ca}.key`,
        "-out",
        `${ca}.crt`,
        "-days",
        "2",
        "-subj",
        `/CN=${ca}`,
      ]);
    openssl(dir, [
      "req",
      ...ec,
      "-keyout",
      "server.key",
      "-out",
      "server.csr",
      "-subj",
      "/CN=kube-apiserver",
    ]);
    openssl(dir, [
      "req",
      ...ec,
      "-keyout",
      "client.key",
      "-out",
      "client.csr",
      "-subj",
      "/O=system:masters/CN=asterism",
    ]);
    writeFileSync(join(dir, "server.ext"), "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
    writeFileSync(join(dir, "client.ext"), "extendedKeyUsage=clientAuth\n");
    for (const leaf of ["server", "client"])
      openssl(dir, [
        "x509",
        "-req",
        "-in",
        `${leaf}.csr`,
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        `${leaf}.crt`,
        "-days",
        "2",
        "-extfile",
        `${leaf}.ext`,
      ]);
    const read = (f: string) => readFileSync(join(dir, f), "utf8");
    return {
      ca: read("ca.crt"),
      serverCert: read("server.crt"),
      serverKey: read("server.key"),
      clientCert: read("client.crt"),
      clientKey: read("client.key"),
      otherCa: read("other-ca.crt"),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
