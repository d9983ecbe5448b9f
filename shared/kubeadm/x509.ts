/**
 * The one place this module loads @peculiar/x509. Its dependency tsyringe throws at import time unless a
 * Reflect metadata polyfill is loaded first, so the polyfill is imported here, before the library, and every
 * file of the module imports `x509` from this file. No global crypto provider is set: every call passes the
 * injected WebCrypto explicitly (house style §13).
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";

export { x509 };
