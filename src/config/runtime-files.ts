import { join } from "node:path";
import {
  ensurePrivateFolder,
  type FolderRole,
  privateFolderProblem,
} from "../system/private-files.ts";
import type { HubPaths } from "./paths.ts";

/** The running daemon's Unix control socket (mode 0600, in the private runtime folder). */
export const controlSocketPath = (paths: HubPaths) => join(paths.runtime, "control.sock");
/** The JSON log of a background daemon; rotated to hub.log.1 … (see log/rotating-file.ts). */
export const logFilePath = (paths: HubPaths) => join(paths.log, "hub.log");
/** Where a background daemon's stderr goes: normally empty, it catches crashes before logging works. */
export const stderrLogFilePath = (paths: HubPaths) => join(paths.log, "hub.stderr.log");
/**
 * The bare key file the installed systemd unit hands to the daemon with `LoadCredential=`
 * (mode 0600). `config set-key` keeps it equal to the key in config.json.
 */
export const serviceKeyFilePath = (paths: HubPaths) => join(paths.config, "api-key");

// Without XDG_RUNTIME_DIR the runtime folder is in the shared temporary folder, where another
// user can make it first: the hub uses it only when it is a real folder of ours, mode 0700.
const RUNTIME_FOLDER: FolderRole = {
  name: "the runtime folder",
  instead:
    "set XDG_RUNTIME_DIR (or HYBRO_HUB_HOME) to a folder of yours; see `hybro-hub config path`",
};

/** Creates the runtime folder (0700) or refuses it; throws UnsafePathError with one line. */
export function ensureRuntimeFolder(runtimeFolder: string): void {
  ensurePrivateFolder(runtimeFolder, RUNTIME_FOLDER);
}

/** Why the runtime folder must not be trusted, or null (private, or absent). */
export function runtimeFolderProblem(runtimeFolder: string): string | null {
  return privateFolderProblem(runtimeFolder, RUNTIME_FOLDER);
}
