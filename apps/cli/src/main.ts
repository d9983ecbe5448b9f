#!/usr/bin/env bun
import "reflect-metadata";
import { rootCommand } from "./commands/index.ts";
import { processIo } from "./io.ts";
import { runCli } from "./runner.ts";

process.exitCode = await runCli(rootCommand, process.argv.slice(2), processIo());
