import { WorkspaceError } from "./errors.ts";
import { createPrivateFile, writePrivateFileAtomic } from "./secret-file.ts";

/**
 * Write the admin kubeconfig that init returned (mode 0600: it holds a cluster-admin client key).
 * Refuses to replace an existing one unless `overwrite` (a second cluster's kubeconfig must not silently
 * replace the first one's).
 */
export function writeAdminKubeconfig(path: string, kubeconfig: string | Uint8Array, overwrite = false): void {
  try {
    if (overwrite) writePrivateFileAtomic(path, kubeconfig);
    else createPrivateFile(path, kubeconfig);
  } catch (cause) {
    if (cause instanceof WorkspaceError && cause.code === "FILE_EXISTS") {
      throw new WorkspaceError("FILE_EXISTS", `Refusing to overwrite the admin kubeconfig ${path}`, {
        expected: "no admin kubeconfig (move the old one away)",
      });
    }
    throw cause;
  }
}
