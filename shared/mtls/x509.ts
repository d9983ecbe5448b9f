// @peculiar/x509 2.x resolves its ASN.1 schemas through tsyringe, which needs the Reflect metadata
// polyfill before the library is first imported; importing it here keeps that ordering inside this
// module instead of relying on every caller's import order. The library is always handed `crypto`
// explicitly, so no global crypto provider is set.
import "reflect-metadata";

export * from "@peculiar/x509";
