// The launchd agent `service install` writes on macOS (pure rendering). launchd has no
// equivalent of RestartPreventExitStatus: KeepAlive restarts any failed exit, including an
// invalid key (exit 3), at most once per ThrottleInterval.
import { join } from "node:path";
import { DAEMON_NODE_FLAGS } from "../system/daemon-settings.ts";
import type { ServiceSpec } from "./service-spec.ts";

export const LAUNCHD_LABEL = "ai.hybro.hub";
const LAUNCHD_THROTTLE_INTERVAL_S = 30;

function xml(value: string): string {
  return value
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;");
}

const launchdStdoutPath = (spec: ServiceSpec) => join(spec.paths.log, "launchd.out.log");
const launchdStderrPath = (spec: ServiceSpec) => join(spec.paths.log, "launchd.err.log");

export function renderLaunchdPlist(spec: ServiceSpec): string {
  const args = [
    spec.nodePath,
    ...DAEMON_NODE_FLAGS,
    spec.cliPath,
    "start",
    "--foreground",
    "--log-file",
    join(spec.paths.log, "hub.log"),
    ...spec.startArgs,
  ];
  const environment: Array<[string, string]> = [
    ["HYBRO_HUB_SERVICE", "launchd"],
    ["PATH", spec.pathEnv],
  ];
  if (spec.hubHome) environment.push(["HYBRO_HUB_HOME", spec.hubHome]);
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<!-- Written by \`hybro-hub service install\`. The paths are absolute: after a Node upgrade or
     a move of hybro-hub, run \`hybro-hub service install\` again. -->
<plist version="1.0">
<dict>
  <key>Label</key>
  <string>${LAUNCHD_LABEL}</string>
  <key>ProgramArguments</key>
  <array>
${args.map((arg) => `    <string>${xml(arg)}</string>`).join("\n")}
  </array>
  <key>EnvironmentVariables</key>
  <dict>
${environment.map(([name, value]) => `    <key>${xml(name)}</key>\n    <string>${xml(value)}</string>`).join("\n")}
  </dict>
  <key>WorkingDirectory</key>
  <string>${xml(spec.workingDirectory)}</string>
  <key>RunAtLoad</key>
  <true/>
  <key>KeepAlive</key>
  <dict>
    <key>SuccessfulExit</key>
    <false/>
  </dict>
  <key>ThrottleInterval</key>
  <integer>${LAUNCHD_THROTTLE_INTERVAL_S}</integer>
  <key>ExitTimeOut</key>
  <integer>30</integer>
  <key>ProcessType</key>
  <string>Background</string>
  <key>Umask</key>
  <integer>63</integer>
  <key>StandardOutPath</key>
  <string>${xml(launchdStdoutPath(spec))}</string>
  <key>StandardErrorPath</key>
  <string>${xml(launchdStderrPath(spec))}</string>
</dict>
</plist>
`;
}
