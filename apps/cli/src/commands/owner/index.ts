import { defineGroup } from "../../command.ts";
import { approveCommand } from "./approve.ts";
import { enrollCommand } from "./enroll.ts";
import { pendingCommand } from "./pending.ts";
import { proposeCommand } from "./propose.ts";

/** `asterism owner …`: owner passkeys, and changes they must approve. */
export const ownerGroup = defineGroup("owner", "Owner passkeys and the changes they approve", [
  enrollCommand,
  proposeCommand,
  pendingCommand,
  approveCommand,
]);
