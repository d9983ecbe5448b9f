import { defineGroup } from "../../command.ts";
import { downCommand } from "./down.ts";
import { metadataServerCommand } from "./metadata-server.ts";
import { rebootCommand } from "./reboot.ts";
import { statusCommand } from "./status.ts";
import { upCommand } from "./up.ts";

/** `asterism mini …`: the local confidential cluster. */
export const miniGroup = defineGroup(
  "mini",
  "Run a local confidential cluster (swtpm nodes as local processes)",
  [upCommand, statusCommand, downCommand, rebootCommand, metadataServerCommand],
);
