// The example installs behind the shipped `systemd/hybro-hub.service` and
// `launchd/ai.hybro.hub.plist`: the generator's output for a typical user, kept identical to
// those files by a test. `hybro-hub service install` writes the real ones with your paths.
import type { ServiceSpec } from "./service-spec.ts";

/** Linux, Node from the distribution, hybro-hub installed with `npm install -g`. */
export const TYPICAL_SYSTEMD_SPEC: ServiceSpec = {
  nodePath: "/usr/bin/node",
  cliPath: "/usr/lib/node_modules/hybro-hub/dist/cli/main.js",
  startArgs: [],
  paths: {
    config: "/home/you/.config/hybro-hub",
    data: "/home/you/.local/share/hybro-hub",
    log: "/home/you/.local/state/hybro-hub",
    runtime: "/run/user/1000/hybro-hub",
  },
  keyFile: "/home/you/.config/hybro-hub/api-key",
  pathEnv: "/usr/bin:/usr/local/bin:/bin",
  hubHome: null,
  workingDirectory: "/home/you",
  writable: [],
};

/** macOS, Node from Homebrew, hybro-hub installed with `npm install -g`. */
export const TYPICAL_LAUNCHD_SPEC: ServiceSpec = {
  nodePath: "/opt/homebrew/bin/node",
  cliPath: "/opt/homebrew/lib/node_modules/hybro-hub/dist/cli/main.js",
  startArgs: [],
  paths: {
    config: "/Users/you/Library/Preferences/hybro-hub",
    data: "/Users/you/Library/Application Support/hybro-hub",
    log: "/Users/you/Library/Logs/hybro-hub",
    runtime: "/var/folders/xx/T/hybro-hub-you",
  },
  keyFile: "/Users/you/Library/Preferences/hybro-hub/api-key",
  pathEnv: "/opt/homebrew/bin:/usr/local/bin:/usr/bin:/bin",
  hubHome: null,
  workingDirectory: "/Users/you",
  writable: [],
};
