// Installing the hub as a per-user service: where the file goes, writing it, and asking the
// service manager to (un)load it.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { LAUNCHD_LABEL, renderLaunchdPlist } from "./launchd-plist.ts";
import type { ServiceSpec } from "./service-spec.ts";
import { renderSystemdUnit, SYSTEMD_UNIT_NAME } from "./systemd-unit.ts";

export type ServiceSystem = "systemd" | "launchd";

export function defaultServiceSystem(platform = process.platform): ServiceSystem | null {
  if (platform === "linux") return "systemd";
  if (platform === "darwin") return "launchd";
  return null;
}

export function serviceFilePath(
  system: ServiceSystem,
  env: NodeJS.ProcessEnv = process.env,
): string {
  const home = env.HOME || homedir();
  if (system === "systemd") {
    return join(env.XDG_CONFIG_HOME || join(home, ".config"), "systemd", "user", SYSTEMD_UNIT_NAME);
  }
  return join(home, "Library", "LaunchAgents", `${LAUNCHD_LABEL}.plist`);
}

export function renderServiceFile(system: ServiceSystem, spec: ServiceSpec): string {
  return system === "systemd" ? renderSystemdUnit(spec) : renderLaunchdPlist(spec);
}

/** One service-manager command: what ran and how it went (output captured for the message). */
interface ManagerCall {
  command: string;
  ok: boolean;
  output: string;
}

type ManagerRunner = (program: string, args: string[]) => ManagerCall;

const runManager: ManagerRunner = (program, args) => {
  const result = spawnSync(program, args, { encoding: "utf8", timeout: 30_000 });
  const output =
    `${result.stdout ?? ""}${result.stderr ?? ""}${result.error ? result.error.message : ""}`.trim();
  return { command: `${program} ${args.join(" ")}`, ok: result.status === 0, output };
};

const launchdDomain = () => `gui/${process.getuid?.() ?? 0}`;

/** Writes the file (and for systemd the credential file) and loads and starts the service. */
export function installService(
  system: ServiceSystem,
  spec: ServiceSpec,
  apiKey: string,
  run: ManagerRunner = runManager,
): { file: string; calls: ManagerCall[] } {
  const file = serviceFilePath(system);
  for (const dir of [spec.paths.data, spec.paths.log, spec.paths.config]) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }
  mkdirSync(dirname(file), { recursive: true });
  const calls: ManagerCall[] = [];
  if (system === "systemd") {
    writeFileSync(spec.keyFile, `${apiKey}\n`, { mode: 0o600 });
    writeFileSync(file, renderSystemdUnit(spec), { mode: 0o644 });
    calls.push(run("systemctl", ["--user", "daemon-reload"]));
    calls.push(run("systemctl", ["--user", "enable", SYSTEMD_UNIT_NAME]));
    calls.push(run("systemctl", ["--user", "restart", "--no-block", SYSTEMD_UNIT_NAME]));
  } else {
    writeFileSync(file, renderLaunchdPlist(spec), { mode: 0o644 });
    run("launchctl", ["bootout", `${launchdDomain()}/${LAUNCHD_LABEL}`]); // a previous install
    calls.push(run("launchctl", ["bootstrap", launchdDomain(), file]));
  }
  return { file, calls };
}

export function uninstallService(
  system: ServiceSystem,
  keyFile: string,
  run: ManagerRunner = runManager,
): { file: string; existed: boolean; calls: ManagerCall[] } {
  const file = serviceFilePath(system);
  const existed = existsSync(file);
  const calls: ManagerCall[] = [];
  if (system === "systemd") {
    calls.push(run("systemctl", ["--user", "disable", "--now", SYSTEMD_UNIT_NAME]));
    rmSync(file, { force: true });
    rmSync(keyFile, { force: true });
    calls.push(run("systemctl", ["--user", "daemon-reload"]));
  } else {
    calls.push(run("launchctl", ["bootout", `${launchdDomain()}/${LAUNCHD_LABEL}`]));
    rmSync(file, { force: true });
  }
  return { file, existed, calls };
}

/** The installed file, and whether it still points at this Node and this package. */
export function installedServiceState(
  system: ServiceSystem,
  spec: Pick<ServiceSpec, "nodePath" | "cliPath">,
): { file: string; installed: boolean; current: boolean } {
  const file = serviceFilePath(system);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return { file, installed: false, current: false };
  }
  return {
    file,
    installed: true,
    current: text.includes(spec.nodePath) && text.includes(spec.cliPath),
  };
}

export function managerStatus(system: ServiceSystem, run: ManagerRunner = runManager): ManagerCall {
  return system === "systemd"
    ? run("systemctl", ["--user", "status", "--no-pager", SYSTEMD_UNIT_NAME])
    : run("launchctl", ["print", `${launchdDomain()}/${LAUNCHD_LABEL}`]);
}
