/** TLS material for {@link createMtlsFetch}. */
export interface MtlsClientOptions {
  /** Trust anchor for the server certificate (the cluster CA, PEM). */
  readonly caCertPem: string;
  /** The caller's certificate and key (PEM); omit both to call without a client certificate. */
  readonly certPem?: string;
  readonly keyPem?: string;
  /** Expected server name when it differs from the URL host. */
  readonly serverName?: string;
}

/**
 * A `fetch` that presents a client certificate and trusts only the cluster CA, using Bun's
 * `fetch(url, { tls })` (the one HTTP client in Bun that sends client certificates: toolchain.md §2).
 */
export function createMtlsFetch(
  options: MtlsClientOptions,
): (url: string, init?: RequestInit) => Promise<Response> {
  const tls = {
    ca: options.caCertPem,
    ...(options.certPem === undefined ? {} : { cert: options.certPem }),
    ...(options.keyPem === undefined ? {} : { key: options.keyPem }),
    ...(options.serverName === undefined ? {} : { serverName: options.serverName }),
    rejectUnauthorized: true,
  };
  return (url, init) => fetch(url, { ...init, tls } as RequestInit);
}
