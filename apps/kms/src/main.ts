/**
 * KMS composition root: read config (env + files), build the key source, the mTLS server and the app.
 *
 *   kms                serve (config from KMS_* environment variables; see config.ts)
 *   kms rotate-kek     user mode: create the next KEK version on the token and rewrap every data key,
 *                      once per owner-approved `kms-key-rotation` of key `kek` (@asterism/owner)
 *   kms --version | --help   (shared service flags)
 */
import { readFileSync } from "node:fs";
import type { TLSSocket } from "node:tls";
import { describeError, isAsterismError } from "@asterism/errors";
import {
  ClusterKeys,
  createFileKeyStore,
  DataKeyRecordSchema,
  type DataKeyStore,
  openPkcs11Keks,
  type Pkcs11KekProvider,
  parseMasterSecret,
  rotateDataKeys,
  UserManagedKeys,
  verifyDataKeys,
} from "@asterism/keys";
import { createPeerAuthenticator, serveMtls } from "@asterism/mtls";
import { approvedRotation, recordRotationDone } from "@asterism/owner";
import { createJsonLogger, handleServiceFlags, type LogFields, type ServiceInfo } from "@asterism/service";
import { openSqliteState } from "@asterism/state";
import * as v from "valibot";
import { createApp } from "./app.ts";
import { type KmsConfig, KmsConfigSchema, parseNamedKeys } from "./config.ts";
import { createClusterKeySource, createUserKeySource, type KeySource } from "./key-source.ts";
import { createKmsMetrics } from "./metrics.ts";
import { createStateKeyStore } from "./state-key-store.ts";

/** `--help` text: what the service is and every setting it reads. */
const INFO: ServiceInfo = {
  name: "kms",
  summary: [
    "Derives (cluster-managed) or unwraps (user-managed, PKCS#11 HSM) the data keys of node state disks,",
    "for the JoinService and bootstrapper identities only, over mutual TLS.",
    "",
    "Commands: (none) serve the API; rotate-kek (user mode) add a KEK version in the HSM and rewrap",
    "every stored data key (resumable: run it again after an interruption). Each rotation needs its own",
    "approval by the cluster owners (asterism owner propose --kind kms-key-rotation, key kek).",
  ].join("\n"),
  env: {
    KMS_MODE: "cluster (master secret + HKDF) or user (PKCS#11 KEK, stored wrapped keys)",
    KMS_HOST: "listen address (default 127.0.0.1)",
    KMS_PORT: "listen port (default 9000; 0 = any free port)",
    KMS_TLS_CERT_FILE: "server certificate (PEM) issued by the cluster CA",
    KMS_TLS_KEY_FILE: "server private key (PEM)",
    KMS_CA_CERT_FILE: "cluster CA certificate (PEM), the only trust anchor for callers",
    KMS_KEY_CALLERS:
      "identities allowed to fetch keys (default asterism://join-service,asterism://bootstrapper)",
    KMS_METRICS_CALLERS: "identities allowed to read /metrics (default key callers + asterism://monitoring)",
    KMS_NAMED_KEYS: "named ids and who may fetch them (default measurementSecret=asterism://join-service)",
    KMS_MASTER_SECRET_FILE: 'cluster mode: {"key": b64, "salt": b64}',
    KMS_PKCS11_LIBRARY: "user mode: PKCS#11 module path",
    KMS_PKCS11_TOKEN: "user mode: token label",
    KMS_PKCS11_PIN_FILE: "user mode: file holding the user PIN",
    KMS_STATE_DB: "user mode: embedded cluster state (SQLite file) holding the wrapped data keys",
    KMS_STORE_DIR: "user mode: directory of wrapped data keys (instead of KMS_STATE_DB)",
    KMS_CREATE_KEK: "user mode: true = create KEK v1 when the token has none (init)",
    KMS_OWNER_ANCHOR: "rotate-kek: genesis hash of the owners' audit log (pinned at init)",
    KMS_OWNER_STATE_DB: "rotate-kek: cluster state holding the audit log (default KMS_STATE_DB)",
  },
};

/** JSON lines on stderr, with the shared redaction of secret-looking field names. */
const logger = createJsonLogger({ base: { service: "kms" } });
const log = (level: "info" | "error", msg: string, fields: LogFields) => logger.log(level, msg, fields);

function fail(message: string, exitCode: number): never {
  log("error", "kms.startup_failed", { message });
  process.exit(exitCode);
}

function loadConfig(): KmsConfig {
  const r = v.safeParse(KmsConfigSchema, process.env);
  if (!r.success) {
    fail(r.issues.map((i) => `${v.getDotPath(i) ?? "config"}: ${i.message}`).join("; "), 2);
  }
  return r.output;
}

function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    return fail(`cannot read ${path}: ${describeError(err)}`, 2);
  }
}

function openHsm(config: KmsConfig): Pkcs11KekProvider {
  const keks = openPkcs11Keks({
    libraryPath: config.KMS_PKCS11_LIBRARY!,
    tokenLabel: config.KMS_PKCS11_TOKEN!,
    pin: readText(config.KMS_PKCS11_PIN_FILE!).trim(),
  });
  if (keks.versions().length === 0 && config.KMS_CREATE_KEK === "true") {
    const kek = keks.createVersion();
    log("info", "kms.kek_created", { version: kek.version });
  }
  return keks;
}

async function buildKeySource(config: KmsConfig): Promise<{ keys: KeySource; close: () => void }> {
  if (config.KMS_MODE === "cluster") {
    const file = readFileSync(config.KMS_MASTER_SECRET_FILE!);
    let master: ReturnType<typeof parseMasterSecret>;
    try {
      master = parseMasterSecret(file);
    } finally {
      file.fill(0); // the base64 text is the secret too
    }
    return {
      keys: createClusterKeySource(await ClusterKeys.create(master.key, master.salt)),
      close: () => {},
    };
  }
  const keks = openHsm(config);
  keks.ring(); // fail fast when the token holds no KEK
  const store = openStore(config);
  const umk = new UserManagedKeys({ store: store.store, ring: () => keks.ring() });
  return {
    keys: createUserKeySource(umk, () => keks.ping()),
    close: () => {
      keks.close();
      store.close();
    },
  };
}

/** Where wrapped data keys live in user mode. */
function openStore(config: KmsConfig): { store: DataKeyStore; close: () => void } {
  if (config.KMS_STATE_DB !== undefined) {
    const state = openSqliteState(config.KMS_STATE_DB);
    return { store: createStateKeyStore(state), close: () => state.close() };
  }
  return { store: createFileKeyStore(config.KMS_STORE_DIR!), close: () => {} };
}

async function serve(config: KmsConfig): Promise<void> {
  const caCertPem = readText(config.KMS_CA_CERT_FILE);
  const { keys, close } = await buildKeySource(config);
  const authenticator = createPeerAuthenticator({ caCertPem });
  const app = createApp({
    keys,
    authenticate: (env) => authenticator((env as { incoming: { socket: TLSSocket } }).incoming.socket),
    policy: {
      keyCallers: new Set(config.KMS_KEY_CALLERS),
      metricsCallers: new Set(config.KMS_METRICS_CALLERS),
      namedKeys: parseNamedKeys(config.KMS_NAMED_KEYS),
    },
    logger,
    metrics: createKmsMetrics(),
    now: () => new Date(),
  });
  const server = await serveMtls({
    fetch: app.fetch,
    certPem: readText(config.KMS_TLS_CERT_FILE),
    keyPem: readText(config.KMS_TLS_KEY_FILE),
    caCertPem,
    host: config.KMS_HOST,
    port: config.KMS_PORT,
  });
  log("info", "kms.listening", {
    mode: keys.mode,
    host: server.host,
    port: server.port,
  });
  const stop = async () => {
    await server.close();
    close();
    process.exit(0);
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

/**
 * The owners' approval for this rotation (@asterism/owner): the newest approved `kms-key-rotation` of
 * key `kek` not carried out yet, from the audit log verified against the pinned anchor. Refused loudly
 * (exit 1, `kms.rotation_refused` with its code) when there is none.
 */
async function rotationApproval(config: KmsConfig) {
  if (config.KMS_OWNER_ANCHOR === undefined)
    fail("rotate-kek needs KMS_OWNER_ANCHOR: every key rotation must be approved by the cluster owners", 2);
  const db = config.KMS_OWNER_STATE_DB ?? config.KMS_STATE_DB;
  if (db === undefined)
    fail("rotate-kek needs KMS_OWNER_STATE_DB (the cluster state with the owners' audit log)", 2);
  const state = openSqliteState(db);
  try {
    const rotation = await approvedRotation({ state, anchor: config.KMS_OWNER_ANCHOR, key: "kek", logger });
    log("info", "kms.rotation_approved", { approvedIn: rotation.sequence, change: rotation.changeDigest });
    return { rotation, state };
  } catch (err) {
    state.close();
    log("error", "kms.rotation_refused", {
      code: isAsterismError(err) ? err.code : "INTERNAL",
      error: describeError(err),
    });
    process.exit(1);
  }
}

async function rotateKek(config: KmsConfig): Promise<void> {
  if (config.KMS_MODE !== "user") fail("rotate-kek needs KMS_MODE=user", 2);
  const approval = await rotationApproval(config);
  const keks = openHsm(config);
  const { store, close } = openStore(config);
  const versions = keks.versions();
  // Resume an interrupted rotation instead of adding yet another version: a rotation is only finished
  // when every record is active under the newest KEK.
  const pending = (await verifyDataKeys(store, keks.ring())).failures;
  if (pending.length > 0) fail(`${pending.length} data keys are unreadable; not rotating`, 1);
  const newest = Math.max(...versions);
  const target = (await isFullyOn(store, newest)) ? keks.createVersion().version : newest;
  const summary = await rotateDataKeys({ store, ring: keks.ring(), target });
  const check = await verifyDataKeys(store, keks.ring());
  log("info", "kms.kek_rotated", {
    target,
    ...summary,
    unreadable: check.failures.length,
    approvedIn: approval.rotation.sequence,
  });
  // The approval is used up only by a finished rotation: an interrupted one resumes under it.
  if (check.failures.length === 0) await recordRotationDone(approval.state, approval.rotation);
  approval.state.close();
  keks.close();
  close();
  if (check.failures.length > 0) process.exit(1);
}

async function isFullyOn(store: DataKeyStore, version: number): Promise<boolean> {
  for (const id of await store.list()) {
    const cur = await store.get(id);
    if (cur === undefined) continue;
    const rec = v.parse(DataKeyRecordSchema, JSON.parse(new TextDecoder().decode(cur.value)));
    if (rec.active !== version || Object.keys(rec.wraps).length !== 1) return false;
  }
  return true;
}

const argv = process.argv.slice(2);
const command = argv[0] === "rotate-kek" ? "rotate-kek" : "serve";
const early = handleServiceFlags(INFO, command === "serve" ? argv : argv.slice(1));
if (early !== undefined) process.exit(early);
const config = loadConfig();
try {
  await (command === "rotate-kek" ? rotateKek(config) : serve(config));
} catch (err) {
  fail(describeError(err), 1);
}
