/**
 * Test fixture (not shipped): one of several processes racing to create the same store entries.
 * Env: STORE_DIR, COUNT, WORKER. Prints the JSON list of keys this process created.
 */
import { createFileKeyStore } from "../index.ts";

const store = createFileKeyStore(process.env["STORE_DIR"] ?? "");
const won: string[] = [];
const worker = process.env["WORKER"] ?? "?";
for (let i = 0; i < Number(process.env["COUNT"]); i++) {
  const key = `k${i}`;
  if ((await store.compareAndSwap(key, null, new TextEncoder().encode(worker))) !== undefined) won.push(key);
}
process.stdout.write(JSON.stringify(won));
