// What a service file needs to start this hub: absolute paths to this Node and this package's
// CLI (so a Node upgrade means running `service install` again), the start arguments and the
// hub's own directories.
import { delimiter, dirname } from "node:path";
import type { HubPaths } from "../config/paths.ts";

export interface ServiceSpec {
  /** Absolute path of the Node binary (`process.execPath` at install time). */
  nodePath: string;
  /** Absolute path of this package's CLI entry. */
  cliPath: string;
  /** Arguments after `start --foreground` (never a key). */
  startArgs: string[];
  paths: HubPaths;
  /** The bare key file handed to the daemon with systemd's `LoadCredential=`. */
  keyFile: string;
  /** PATH for the daemon and the agents it starts (Node's own folder first). */
  pathEnv: string;
  /** Set when the hub's files live under HYBRO_HUB_HOME; passed on to the daemon. */
  hubHome: string | null;
  /** The daemon's folder (relative agent commands resolve here): the user's home, as systemd does. */
  workingDirectory: string;
  /** Extra folders the daemon (and its stdio agents) may write (systemd `ReadWritePaths=`). */
  writable: string[];
}

/** PATH as the service should see it: Node's folder, then the installing shell's PATH. */
export function servicePathEnv(nodePath: string, shellPath = process.env.PATH ?? ""): string {
  const parts = [
    dirname(nodePath),
    ...shellPath.split(delimiter),
    "/usr/local/bin",
    "/usr/bin",
    "/bin",
  ];
  return [...new Set(parts.filter((part) => part.startsWith("/")))].join(delimiter);
}
