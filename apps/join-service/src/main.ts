#!/usr/bin/env bun
import { handleServiceFlags } from "@asterism/service";

/**
 * Composition root of the join-service. The service itself arrives with the node-lifecycle work (issue 8);
 * until then the binary answers --help and --version and refuses to pretend it runs.
 */
const info = {
  name: "join-service",
  summary: "Verifies a joining node's attestation and issues its join ticket.",
  env: {},
};

const early = handleServiceFlags(info, process.argv.slice(2));
if (early !== undefined) process.exit(early);
process.stderr.write("join-service: not implemented yet in this build (node lifecycle, issue 8)\n");
process.exit(3);
