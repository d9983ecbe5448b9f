import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { NodeVmError } from "./errors.ts";

/** Where a manufactured vTPM's certificate chain lives (inside the VM directory). */
export interface TpmCa {
  /** swtpm-localca root certificate (PEM): the trust anchor for this VM's EK certificates. */
  readonly rootCert: string;
  /** Intermediate that signed the EK and platform certificates (PEM). */
  readonly issuerCert: string;
}

const SETUP_TIMEOUT_MS = 60_000;

/**
 * Manufacture the vTPM state once, like a TPM vendor would: `swtpm_setup` with a private swtpm-localca
 * CA under `dir/ca` creates RSA-2048 and ECC P-384 endorsement keys with certificates in NV
 * (0x01c00002, 0x01c00016), a platform certificate, and the SHA-1 + SHA-256 banks. Skipped when the
 * state already exists (a reboot keeps its TPM identity).
 */
export async function manufactureTpm(dir: string, tpmState: string): Promise<TpmCa> {
  const caDir = join(dir, "ca");
  const ca = {
    rootCert: join(caDir, "swtpm-localca-rootca-cert.pem"),
    issuerCert: join(caDir, "issuercert.pem"),
  };
  if (existsSync(join(tpmState, "tpm2-00.permall")) && existsSync(ca.rootCert)) return ca;
  mkdirSync(caDir, { recursive: true });
  mkdirSync(tpmState, { recursive: true });
  const localca = join(dir, "swtpm-localca.conf");
  writeFileSync(
    localca,
    [
      `statedir = ${caDir}`,
      `signingkey = ${join(caDir, "signkey.pem")}`,
      `issuercert = ${ca.issuerCert}`,
      `certserial = ${join(caDir, "certserial")}`,
      "",
    ].join("\n"),
  );
  const setup = join(dir, "swtpm_setup.conf");
  writeFileSync(
    setup,
    [
      "create_certs_tool = /usr/bin/swtpm_localca",
      `create_certs_tool_config = ${localca}`,
      "create_certs_tool_options = /etc/swtpm-localca.options",
      "active_pcr_banks = sha1,sha256",
      "",
    ].join("\n"),
  );
  const proc = Bun.spawn(
    [
      "swtpm_setup",
      "--tpm2",
      "--tpmstate",
      tpmState,
      "--config",
      setup,
      "--create-ek-cert",
      "--create-platform-cert",
      "--lock-nvram",
      "--overwrite",
    ],
    { stdout: "pipe", stderr: "pipe" },
  );
  const timer = setTimeout(() => proc.kill("SIGKILL"), SETUP_TIMEOUT_MS);
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  clearTimeout(timer);
  if (code !== 0)
    throw new NodeVmError("START_FAILED", "Cannot manufacture the vTPM", {
      expected: "swtpm_setup exit 0",
      actual: `exit ${code}: ${(out + err).trim().slice(-400)}`,
    });
  return ca;
}
