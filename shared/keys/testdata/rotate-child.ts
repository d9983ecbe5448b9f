/**
 * Test fixture (not shipped): runs a KEK rotation in its own process so a test can SIGKILL it midway.
 * Env: STORE_DIR, P11_LIB, P11_TOKEN, P11_PIN, SOFTHSM2_CONF; PAUSE_AFTER (hang after that many steps,
 * waiting for the kill) or STEP_DELAY_MS (sleep after each step). Prints one JSON line per step.
 */
import { createFileKeyStore, openPkcs11Keks, rotateDataKeys } from "../index.ts";

const env = (k: string) => {
  const v = process.env[k];
  if (v === undefined) throw new Error(`missing ${k}`);
  return v;
};
const keks = openPkcs11Keks({
  libraryPath: env("P11_LIB"),
  tokenLabel: env("P11_TOKEN"),
  pin: env("P11_PIN"),
});
const pauseAfter = Number(process.env["PAUSE_AFTER"] ?? "0");
const delay = Number(process.env["STEP_DELAY_MS"] ?? "0");
let steps = 0;
await rotateDataKeys({
  store: createFileKeyStore(env("STORE_DIR")),
  ring: keks.ring(),
  onProgress: async (e) => {
    steps++;
    process.stdout.write(`${JSON.stringify({ step: steps, ...e })}\n`);
    if (steps === pauseAfter) await Bun.sleep(60_000); // the parent kills us here
    if (delay > 0) await Bun.sleep(delay);
  },
});
process.stdout.write(`${JSON.stringify({ done: true })}\n`);
keks.close();
