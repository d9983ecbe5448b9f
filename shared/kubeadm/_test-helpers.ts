/**
 * Helpers shared by this module's tests (not exported from index.ts): a pinned clock, a seeded byte source,
 * openssl cross-checks and CSR construction.
 */
import { x509 } from "./x509.ts";

/** The instant every test pins its clock to. */
export const TEST_NOW = new Date("2026-11-25T00:00:00Z");

/** A deterministic byte source (xorshift32) for reproducible serials/tokens; NOT cryptographic. */
export function seededBytes(seed = 0x9e3779b9): (n: number) => Uint8Array {
  let s = seed >>> 0 || 1;
  return (n) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      s ^= s << 13;
      s >>>= 0;
      s ^= s >>> 17;
      s ^= s << 5;
      s >>>= 0;
      out[i] = s & 0xff;
    }
    return out;
  };
}

/** Runs openssl with `stdin`, returning stdout; throws on a non-zero exit. */
export async function openssl(args: string[], stdin: string | Uint8Array): Promise<Uint8Array> {
  const p = Bun.spawn(["openssl", ...args], {
    stdin: new Blob([typeof stdin === "string" ? stdin : new Uint8Array(stdin)]),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([
    new Response(p.stdout).arrayBuffer(),
    new Response(p.stderr).text(),
    p.exited,
  ]);
  if (code !== 0) throw new Error(`openssl ${args.join(" ")} failed: ${err}`);
  return new Uint8Array(out);
}

/** kubeadm-style pin computed only with openssl: x509 -pubkey | pkey -pubin -outform der | sha256. */
export async function opensslPin(certPem: string): Promise<string> {
  const pub = await openssl(["x509", "-pubkey", "-noout"], certPem);
  const der = await openssl(["pkey", "-pubin", "-outform", "der"], pub);
  const hex = new TextDecoder().decode(await openssl(["dgst", "-sha256", "-r"], der)).split(" ")[0];
  return `sha256:${hex}`;
}

/** Options of {@link makeCsr}. */
export interface CsrSpec {
  readonly subject?: string;
  readonly dns?: readonly string[];
  readonly ips?: readonly string[];
  readonly emails?: readonly string[];
  readonly uris?: readonly string[];
  readonly extraExtensions?: readonly x509.Extension[];
  readonly keys?: CryptoKeyPair;
  readonly algorithm?: EcKeyGenParams | RsaHashedKeyGenParams;
  readonly signingAlgorithm?: Algorithm | EcdsaParams;
}

let cachedKeys: CryptoKeyPair | undefined;

/** A fresh-enough P-256 key pair (cached across tests to keep them fast). */
export async function p256Keys(): Promise<CryptoKeyPair> {
  cachedKeys ??= (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ])) as CryptoKeyPair;
  return cachedKeys;
}

/** Builds a DER PKCS#10 CSR the way a kubelet would (ECDSA P-256 by default). */
export async function makeCsr(spec: CsrSpec = {}): Promise<Uint8Array> {
  const keys =
    spec.keys ??
    (spec.algorithm
      ? ((await crypto.subtle.generateKey(spec.algorithm, true, ["sign", "verify"])) as CryptoKeyPair)
      : await p256Keys());
  const names: x509.JsonGeneralName[] = [
    ...(spec.dns ?? []).map((value) => ({ type: "dns" as const, value })),
    ...(spec.ips ?? []).map((value) => ({ type: "ip" as const, value })),
    ...(spec.emails ?? []).map((value) => ({ type: "email" as const, value })),
    ...(spec.uris ?? []).map((value) => ({ type: "url" as const, value })),
  ];
  const extensions: x509.Extension[] = [...(spec.extraExtensions ?? [])];
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names));
  const csr = await x509.Pkcs10CertificateRequestGenerator.create(
    {
      name: spec.subject ?? "CN=system:node:worker-1, O=system:nodes",
      keys,
      signingAlgorithm: spec.signingAlgorithm ?? { name: "ECDSA", hash: "SHA-256" },
      extensions,
    },
    crypto,
  );
  return new Uint8Array(csr.rawData);
}
