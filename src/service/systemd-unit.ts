// The user systemd unit `service install` writes (pure rendering; install.ts does the I/O).
//
// Type=notify: "started" means registered with the relay and agents synced, as with
// cloudflared. Node cannot send sd_notify datagrams itself, so the daemon runs
// `systemd-notify --ready`, hence NotifyAccess=all (reliable since systemd 246, which waits for
// the manager to take the message). TimeoutStartSec=infinity because the hub keeps retrying an
// unreachable relay (boot before the network is up) instead of failing; an invalid key exits 3
// and RestartPreventExitStatus=3 stops the restart loop.
import { DAEMON_ENV, DAEMON_NODE_FLAGS } from "../system/daemon-settings.ts";
import type { ServiceSpec } from "./service-spec.ts";

export const SYSTEMD_UNIT_NAME = "hybro-hub.service";
/** The credential name the daemon reads as `$CREDENTIALS_DIRECTORY/hybro-api-key`. */
const SYSTEMD_CREDENTIAL_NAME = "hybro-api-key";

/** Quotes one word for a unit file: specifiers (`%`) and variables (`$`) stay literal. */
export function systemdWord(value: string): string {
  const escaped = value.replaceAll("%", "%%");
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(escaped)) return escaped;
  return `"${escaped.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("$", "$$$$")}"`;
}

/** For settings without `$` expansion (Environment=, LoadCredential=): only `%` and quotes. */
function systemdValue(value: string): string {
  const escaped = value.replaceAll("%", "%%");
  if (/^[^\s"'\\]+$/.test(escaped)) return escaped;
  return `"${escaped.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}

export function renderSystemdUnit(spec: ServiceSpec): string {
  const exec = [
    spec.nodePath,
    ...DAEMON_NODE_FLAGS,
    spec.cliPath,
    "start",
    "--foreground",
    ...spec.startArgs,
  ]
    .map(systemdWord)
    .join(" ");
  const writable = [spec.paths.data, spec.paths.log, ...spec.writable];
  if (spec.hubHome) writable.push(spec.paths.runtime);
  const environment = [
    `HYBRO_HUB_SERVICE=systemd`,
    `PATH=${spec.pathEnv}`,
    ...Object.entries(DAEMON_ENV).map(([name, value]) => `${name}=${value}`),
  ];
  if (spec.hubHome) environment.push(`HYBRO_HUB_HOME=${spec.hubHome}`);
  return `# Written by \`hybro-hub service install\`. The paths are absolute: after a Node upgrade or
# a move of hybro-hub, run \`hybro-hub service install\` again.
[Unit]
Description=hybro-hub: local AI agents on the Hybro relay
Documentation=https://github.com/hybroai/hybro-hub#readme
StartLimitIntervalSec=300
StartLimitBurst=10

[Service]
Type=notify
NotifyAccess=all
ExecStart=${exec}
# The home folder: relative commands in agents.json resolve here, as with launchd.
WorkingDirectory=~
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=5
# 3 = the relay refused the API key: restarting cannot help (replace it with \`hybro-hub config set-key\`).
RestartPreventExitStatus=3
TimeoutStartSec=infinity
TimeoutStopSec=30
${environment.map((entry) => `Environment=${systemdValue(entry)}`).join("\n")}
# The key reaches the daemon as a credential, never on a command line or in the environment.
LoadCredential=${SYSTEMD_CREDENTIAL_NAME}:${spec.keyFile.replaceAll("%", "%%")}
RuntimeDirectory=hybro-hub
RuntimeDirectoryMode=0700
UMask=0077
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=read-only
ReadWritePaths=${writable.map((path) => systemdWord(`-${path}`)).join(" ")}
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectControlGroups=yes
RestrictSUIDSGID=yes
RestrictRealtime=yes
LockPersonality=yes
SystemCallArchitectures=native

[Install]
WantedBy=default.target
`;
}
