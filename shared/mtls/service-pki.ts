import { closeSync, fsyncSync, mkdirSync, openSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { createClusterCa, issueServiceCertificate } from "./ca.ts";

/** mTLS material of the KMS and its one caller, the JoinService (file paths). */
export interface ServicePki {
  /** The service CA certificate (PEM): the trust anchor both sides pin. */
  readonly caFile: string;
  readonly kms: { readonly certFile: string; readonly keyFile: string };
  readonly joinService: { readonly certFile: string; readonly keyFile: string };
}

/** Where the KMS listens: loopback beside the JoinService (its certificate names this address). */
export const SERVICE_PKI_KMS_ADDRESS = "127.0.0.1";

/**
 * Create a service CA, issue the KMS's server certificate (`asterism://kms`, IP SAN 127.0.0.1) and the
 * JoinService's client certificate (`asterism://join-service`), and write them under `dir/service-pki`
 * (certificates 0644, keys 0600, directory 0700). The CA's private key never touches the disk: it is
 * dropped once both certificates are issued, so nothing can mint another service identity later.
 * Existing files are never overwritten (O_EXCL): a second call on the same directory fails.
 *
 * Used by `asterism mini up` (process cluster, on the host) and by the bootstrapper when it provisions
 * the control-plane services of a VM node itself (`ASTERISM_CONTROL_PLANE_SERVICES=systemd`).
 */
export async function createServicePki(dir: string, now: Date): Promise<ServicePki> {
  const pki = join(dir, "service-pki");
  mkdirSync(pki, { recursive: true, mode: 0o700 });
  const ca = await createClusterCa({ now, commonName: "asterism local cluster service CA" });
  const kms = await issueServiceCertificate(ca, {
    service: "kms",
    usage: "server",
    ipAddresses: [SERVICE_PKI_KMS_ADDRESS],
    now,
  });
  const js = await issueServiceCertificate(ca, { service: "join-service", usage: "client", now });
  const out: ServicePki = {
    caFile: join(pki, "ca.crt"),
    kms: { certFile: join(pki, "kms.crt"), keyFile: join(pki, "kms.key") },
    joinService: { certFile: join(pki, "join-service.crt"), keyFile: join(pki, "join-service.key") },
  };
  writeFileSync(out.caFile, ca.certPem, { flag: "wx", mode: 0o644 });
  writeFileSync(out.kms.certFile, kms.certPem, { flag: "wx", mode: 0o644 });
  writePrivate(out.kms.keyFile, kms.keyPem);
  writeFileSync(out.joinService.certFile, js.certPem, { flag: "wx", mode: 0o644 });
  writePrivate(out.joinService.keyFile, js.keyPem);
  return out;
}

/** Create `path` 0600 and write `data` (O_CREAT|O_EXCL: never readable by others, never overwritten). */
function writePrivate(path: string, data: string): void {
  const fd = openSync(path, "wx", 0o600);
  try {
    writeSync(fd, Buffer.from(data));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
