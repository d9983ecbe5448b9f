import { Database } from "bun:sqlite";
import { fromBase64, toBase64 } from "@asterism/bytes";
import { StateError } from "./errors.ts";
import { type ClusterState, checkObject, matches, type ObjectKind, type StoredObject } from "./types.ts";

interface Row {
  kind: string;
  name: string;
  version: number;
  labels: string;
  data: string;
}

/**
 * The embedded backend for the local cluster: one SQLite file shared by the local services. Every
 * write is one transaction (atomic, durable with `synchronous=FULL`); compare-and-swap is a conditional
 * UPDATE; several processes may share the file (WAL, busy timeout).
 */
export function openSqliteState(path: string): ClusterState & { close(): void } {
  const db = new Database(path, { create: true, strict: true });
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;");
  db.exec(`CREATE TABLE IF NOT EXISTS objects (
    kind TEXT NOT NULL, name TEXT NOT NULL, version INTEGER NOT NULL, labels TEXT NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (kind, name))`);
  const getStmt = db.query<Row, { kind: string; name: string }>(
    "SELECT * FROM objects WHERE kind = $kind AND name = $name",
  );
  const listStmt = db.query<Row, { kind: string }>("SELECT * FROM objects WHERE kind = $kind ORDER BY name");
  const insertStmt = db.query(
    "INSERT INTO objects (kind, name, version, labels, data) VALUES ($kind, $name, 1, $labels, $data)",
  );
  const updateStmt = db.query(
    "UPDATE objects SET version = version + 1, data = $data WHERE kind = $kind AND name = $name AND version = $version",
  );
  const deleteStmt = db.query("DELETE FROM objects WHERE kind = $kind AND name = $name");

  const toObject = (r: Row): StoredObject => {
    const raw = JSON.parse(r.data) as Record<string, string>;
    return {
      kind: r.kind as ObjectKind,
      name: r.name,
      version: String(r.version),
      labels: JSON.parse(r.labels) as Record<string, string>,
      data: Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, fromBase64(v)])),
    };
  };
  const encodeData = (data: Record<string, Uint8Array>) =>
    JSON.stringify(Object.fromEntries(Object.entries(data).map(([k, v]) => [k, toBase64(v)])));
  const read = (kind: ObjectKind, name: string) => getStmt.get({ kind, name });

  return {
    async get(kind, name) {
      checkObject(name);
      const r = read(kind, name);
      return r ? toObject(r) : undefined;
    },
    async create(kind, name, data, labels = {}) {
      checkObject(name, data, labels);
      return db
        .transaction(() => {
          if (read(kind, name))
            throw new StateError("ALREADY_EXISTS", `Cannot create ${kind} ${name}`, {
              expected: "a free name",
              actual: "it exists",
            });
          insertStmt.run({ kind, name, labels: JSON.stringify(labels), data: encodeData(data) });
          return toObject(read(kind, name) as Row);
        })
        .immediate();
    },
    async update(kind, name, data, expectedVersion) {
      checkObject(name, data);
      return db
        .transaction(() => {
          const changed = updateStmt.run({
            kind,
            name,
            data: encodeData(data),
            version: Number(expectedVersion),
          }).changes;
          const now = read(kind, name);
          if (!now)
            throw new StateError("NOT_FOUND", `Cannot update ${kind} ${name}`, {
              expected: "an existing object",
              actual: "none",
            });
          if (changed === 0)
            throw new StateError("CONFLICT", `Cannot update ${kind} ${name}`, {
              expected: `version ${expectedVersion}`,
              actual: `version ${now.version}`,
            });
          return toObject(now);
        })
        .immediate();
    },
    async delete(kind, name) {
      checkObject(name);
      if (deleteStmt.run({ kind, name }).changes === 0)
        throw new StateError("NOT_FOUND", `Cannot delete ${kind} ${name}`, {
          expected: "an existing object",
          actual: "none",
        });
    },
    async list(kind, selector) {
      return listStmt
        .all({ kind })
        .map(toObject)
        .filter((o) => matches(o.labels, selector));
    },
    close() {
      db.close();
    },
  };
}
