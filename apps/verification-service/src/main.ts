#!/usr/bin/env bun
import { handleServiceFlags } from "@asterism/service";

/**
 * Composition root of the verification-service. The service itself arrives with the node-lifecycle work (issue 8);
 * until then the binary answers --help and --version and refuses to pretend it runs.
 */
const info = {
  name: "verification-service",
  summary: "Serves fresh attestation evidence of this node for a caller's nonce.",
  env: {},
};

const early = handleServiceFlags(info, process.argv.slice(2));
if (early !== undefined) process.exit(early);
process.stderr.write("verification-service: not implemented yet in this build (node lifecycle, issue 8)\n");
process.exit(3);
