import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import envPaths from "env-paths";

/** Where the hub keeps its files. All four can be moved under one folder with `HYBRO_HUB_HOME`. */
export interface HubPaths {
  /** config.json (the saved key, mode 0600) and the default agents.json */
  config: string;
  /** hub_id, the outbox database, the dev relay's state */
  data: string;
  /** hub.log and its rotations (background mode) */
  log: string;
  /** the control socket and the pid file */
  runtime: string;
}

export function hubPaths(env: NodeJS.ProcessEnv = process.env): HubPaths {
  const home = env.HYBRO_HUB_HOME;
  if (home) {
    return {
      config: join(home, "config"),
      data: join(home, "data"),
      log: join(home, "log"),
      runtime: join(home, "run"),
    };
  }
  const paths = envPaths("hybro-hub", { suffix: "" });
  // env-paths has no runtime dir; XDG_RUNTIME_DIR is per-user and private on Linux.
  const runtime = env.XDG_RUNTIME_DIR
    ? join(env.XDG_RUNTIME_DIR, "hybro-hub")
    : join(tmpdir(), `hybro-hub-${safeUserName()}`);
  return { config: paths.config, data: paths.data, log: paths.log, runtime };
}

function safeUserName(): string {
  try {
    return userInfo().username.replace(/[^A-Za-z0-9_.-]/g, "_");
  } catch {
    return String(process.getuid?.() ?? "user");
  }
}

export const configFilePath = (paths: HubPaths) => join(paths.config, "config.json");
export const defaultAgentsFilePath = (paths: HubPaths) => join(paths.config, "agents.json");
