import { join } from "node:path";
import type { HubPaths } from "./paths.ts";

/** The running daemon's Unix control socket (mode 0600, in the private runtime directory). */
export const controlSocketPath = (paths: HubPaths) => join(paths.runtime, "control.sock");
/** The pid file that makes the daemon a single instance (see pid-file.ts). */
export const pidFilePath = (paths: HubPaths) => join(paths.runtime, "hub.pid");
/** The JSON log of a background daemon; rotated to hub.log.1 … (see log/rotating-file.ts). */
export const logFilePath = (paths: HubPaths) => join(paths.log, "hub.log");
/** Where a background daemon's stderr goes: normally empty, it catches crashes before logging works. */
export const stderrLogFilePath = (paths: HubPaths) => join(paths.log, "hub.stderr.log");
/**
 * The bare key file the installed systemd unit hands to the daemon with `LoadCredential=`
 * (mode 0600). `config set-key` keeps it equal to the key in config.json.
 */
export const serviceKeyFilePath = (paths: HubPaths) => join(paths.config, "api-key");
