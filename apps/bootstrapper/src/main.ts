#!/usr/bin/env bun
import { handleServiceFlags } from "@asterism/service";

/**
 * Composition root of the bootstrapper. The service itself arrives with the node-lifecycle work (issue 8);
 * until then the binary answers --help and --version and refuses to pretend it runs.
 */
const info = {
  name: "bootstrapper",
  summary:
    "Runs first on every node: attests, then serves init or joins a cluster, and sets up the state disk.",
  env: {},
};

const early = handleServiceFlags(info, process.argv.slice(2));
if (early !== undefined) process.exit(early);
process.stderr.write("bootstrapper: not implemented yet in this build (node lifecycle, issue 8)\n");
process.exit(3);
