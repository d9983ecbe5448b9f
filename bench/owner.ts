/**
 * Owner approvals: what verifying the audit log costs a service at start (and an auditor), against the
 * raw cryptography it cannot avoid — measured in the same run:
 *
 * - `verifyAuditLog` of N entries with 2-of-3 approvals each (software P-256 passkeys), from genesis;
 * - baseline: WebCrypto ECDSA P-256 verifications of the same number of signatures (sequential awaits,
 *   as the verifier does them), so the ratio is the price of parsing, canonical JSON, the WebAuthn checks
 *   and @simplewebauthn/server around each signature;
 * - `verifyApproval` of one assertion vs one raw verification;
 * - RFC 8785 canonical JSON of a policy change vs JSON.stringify.
 *
 *   bun bench/owner.ts [--entries=200]
 *
 * Prints a table and one JSON line.
 */
import { createHash, randomBytes } from "node:crypto";
import {
  type Approval,
  type AuditEntry,
  applyAuditEntry,
  approvalFromAssertion,
  type Change,
  canonicalJson,
  changeDigest,
  createAuditEntry,
  createChange,
  type Owner,
  registrationOptions,
  verifyApproval,
  verifyAuditLog,
  verifyRegistration,
} from "@asterism/owner";
import { createSoftwareAuthenticator, type SoftwarePasskey } from "@asterism/testing";

const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1];
const N = Math.min(Number(arg("entries") ?? 200), 2000);
const RP = { id: "localhost", origins: ["http://localhost"] };
const auth = createSoftwareAuthenticator({ rpId: "localhost", origin: "http://localhost:9" });

// --- build a log --------------------------------------------------------------------------------------
const owners: Owner[] = [];
const keys: SoftwarePasskey[] = [];
for (const name of ["alice", "bob", "carol"]) {
  const challenge = new Uint8Array(randomBytes(32));
  const { response, passkey } = auth.register(
    await registrationOptions({ rp: RP, ownerName: name, userId: new Uint8Array(16), challenge }),
  );
  owners.push({ name, credentials: [await verifyRegistration({ response, challenge, rp: RP })] });
  keys.push(passkey);
}
const sign = (k: SoftwarePasskey, c: Change): Approval =>
  approvalFromAssertion(auth.assert(k, changeDigest(c)));
const now = new Date();
const policy = (i: number) => ({
  variants: ["qemu-vtpm"],
  measurements: Object.fromEntries(
    Array.from({ length: 12 }, (_, j) => [
      String(j),
      { expected: createHash("sha256").update(`${i}/${j}`).digest("hex"), warnOnly: j === 11 },
    ]),
  ),
});
const genesis = createChange({
  clusterId: "ab".repeat(32),
  head: undefined,
  kind: "genesis",
  payload: { owners, threshold: 2, rp: RP },
  now,
});
const entries: AuditEntry[] = [
  createAuditEntry(
    genesis,
    keys.map((k) => sign(k, genesis)),
  ),
];
let state = await applyAuditEntry(undefined, entries[0] as AuditEntry);
for (let i = 1; i < N; i++) {
  const c = createChange({
    clusterId: "ab".repeat(32),
    head: state.head,
    kind: "attestation-policy",
    payload: { policy: policy(i) },
    now,
  });
  const e = createAuditEntry(c, [
    sign(keys[i % 3] as SoftwarePasskey, c),
    sign(keys[(i + 1) % 3] as SoftwarePasskey, c),
  ]);
  state = await applyAuditEntry(state, e);
  entries.push(e);
}
const signatures = entries.reduce((n, e) => n + e.approvals.length, 0);

// --- baseline material: raw P-256 signatures over 32-byte digests -------------------------------------
const raw = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, [
  "sign",
  "verify",
]);
const msg = new Uint8Array(randomBytes(37 + 32));
const sig = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, raw.privateKey, msg);

async function time(reps: number, f: () => Promise<unknown> | unknown): Promise<number> {
  await f(); // warm-up
  const t = performance.now();
  for (let i = 0; i < reps; i++) await f();
  return (performance.now() - t) / reps;
}

const logMs = await time(3, () => verifyAuditLog(entries, { anchor: state.genesisHash }));
const rawLogMs = await time(3, async () => {
  for (let i = 0; i < signatures; i++)
    await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, raw.publicKey, sig, msg);
});
const last = entries[entries.length - 1] as AuditEntry;
const check = {
  challenge: changeDigest(last.change),
  credential: owners.find((o) => o.credentials[0]?.id === last.approvals[0]?.credentialId)
    ?.credentials[0] as Owner["credentials"][number],
  rp: RP,
  counter: 0,
};
const approvalMs = await time(500, () => verifyApproval(last.approvals[0] as Approval, check));
const rawOneMs = await time(500, () =>
  crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, raw.publicKey, sig, msg),
);
const jcsMs = await time(5000, () => canonicalJson(last.change));
const stringifyMs = await time(5000, () => JSON.stringify(last.change));

const rows = [
  [`verifyAuditLog (${N} entries, ${signatures} signatures)`, logMs, `raw ECDSA ×${signatures}`, rawLogMs],
  ["verifyApproval (one assertion)", approvalMs, "raw ECDSA ×1", rawOneMs],
  ["canonicalJson (policy change)", jcsMs, "JSON.stringify", stringifyMs],
] as const;
console.log(
  `${"case".padEnd(48)} ${"ms".padStart(10)}  ${"baseline".padEnd(22)} ${"ms".padStart(10)}  ratio`,
);
for (const [name, ms, base, baseMs] of rows)
  console.log(
    `${name.padEnd(48)} ${ms.toFixed(3).padStart(10)}  ${base.padEnd(22)} ${baseMs.toFixed(3).padStart(10)}  ${(ms / baseMs).toFixed(1)}×`,
  );
console.log(
  JSON.stringify({
    bench: "owner",
    entries: N,
    signatures,
    verifyAuditLogMs: logMs,
    perEntryMs: logMs / N,
    rawEcdsaMs: rawLogMs,
    logRatio: logMs / rawLogMs,
    verifyApprovalMs: approvalMs,
    rawVerifyMs: rawOneMs,
    approvalRatio: approvalMs / rawOneMs,
    canonicalJsonMs: jcsMs,
    jsonStringifyMs: stringifyMs,
  }),
);
