// `hybro-hub service install|uninstall|status`: run the hub as a per-user systemd or launchd
// service, with absolute paths to this Node and this package (re-run install after upgrading).
import { homedir } from "node:os";
import { resolve as resolvePath } from "node:path";
import { type Command, Option } from "commander";
import { resolveApiKey } from "../config/api-key.ts";
import { saveApiKey } from "../config/config-file.ts";
import { configFilePath, hubPaths } from "../config/paths.ts";
import { controlSocketPath, serviceKeyFilePath } from "../config/runtime-files.ts";
import { askDaemon } from "../control/client.ts";
import {
  defaultServiceSystem,
  installedServiceState,
  installService,
  managerStatus,
  renderServiceFile,
  type ServiceSystem,
  serviceFilePath,
  uninstallService,
} from "../service/install.ts";
import { type ServiceSpec, servicePathEnv } from "../service/service-spec.ts";
import { ExitCode } from "../system/exit-codes.ts";
import { cliEntryPath } from "./entry-path.ts";
import { KEY_ON_COMMAND_LINE, keyOnCommandLineOption } from "./key-on-command-line.ts";

interface ServiceOptions {
  system?: ServiceSystem;
  print?: boolean;
  apiKey?: string;
  apiKeyFile?: string;
  gatewayUrl?: string;
  agents?: string;
  logLevel?: string;
  metrics?: string;
  writable?: string[];
}

const systemOption = () =>
  new Option(
    "--system <system>",
    "service manager (default: systemd on Linux, launchd on macOS)",
  ).choices(["systemd", "launchd"]);

export function registerServiceCommand(program: Command): void {
  const service = program
    .command("service")
    .description("run the hub as a per-user service (systemd on Linux, launchd on macOS)");
  service
    .command("install")
    .description("write the service file for this user and start the service")
    .addOption(systemOption())
    .option("--print", "print the file instead of writing it")
    .addOption(keyOnCommandLineOption())
    .option(
      "--api-key-file <file>",
      "read the key from a file (else HYBRO_API_KEY or the saved one)",
    )
    .option("--gateway-url <url>", "relay base URL")
    .option("--agents <file>", "agents file (default: agents.json in the config directory)")
    .addOption(
      new Option("--log-level <level>", "log level").choices([
        "trace",
        "debug",
        "info",
        "warn",
        "error",
      ]),
    )
    .option("--metrics <host:port>", "serve Prometheus metrics, e.g. 127.0.0.1:9464")
    .option("--writable <dir...>", "systemd: extra folders the hub and its agents may write")
    .action(async (options: ServiceOptions) => {
      process.exitCode = await install(options);
    });
  service
    .command("uninstall")
    .description("stop the service and remove its file")
    .addOption(systemOption())
    .action((options: ServiceOptions) => {
      process.exitCode = uninstall(options);
    });
  service
    .command("status")
    .description("whether the service is installed, current, and what the service manager says")
    .addOption(systemOption())
    .action((options: ServiceOptions) => {
      process.exitCode = status(options);
    });
}

function pickSystem(options: ServiceOptions): ServiceSystem | null {
  const system = options.system ?? defaultServiceSystem();
  if (!system) {
    process.stderr.write(
      `error: no service manager support on ${process.platform}; run \`hybro-hub start\` instead (or pass --system to --print a file)\n`,
    );
  }
  return system;
}

function serviceSpec(options: ServiceOptions): ServiceSpec {
  const paths = hubPaths();
  const startArgs: string[] = [];
  if (options.gatewayUrl) startArgs.push("--gateway-url", options.gatewayUrl);
  if (options.agents) startArgs.push("--agents", resolvePath(options.agents));
  if (options.logLevel) startArgs.push("--log-level", options.logLevel);
  if (options.metrics) startArgs.push("--metrics", options.metrics);
  return {
    nodePath: process.execPath,
    cliPath: cliEntryPath(),
    startArgs,
    paths,
    keyFile: serviceKeyFilePath(paths),
    pathEnv: servicePathEnv(process.execPath),
    hubHome: process.env.HYBRO_HUB_HOME ? resolvePath(process.env.HYBRO_HUB_HOME) : null,
    workingDirectory: homedir(),
    writable: (options.writable ?? []).map((dir) => resolvePath(dir)),
  };
}

async function install(options: ServiceOptions): Promise<number> {
  const system = pickSystem(options);
  if (!system) return ExitCode.usage;
  const spec = serviceSpec(options);
  if (options.print) {
    process.stdout.write(renderServiceFile(system, spec));
    return ExitCode.ok;
  }
  if (options.apiKey !== undefined) {
    process.stderr.write(`error: ${KEY_ON_COMMAND_LINE}\n`);
    return ExitCode.usage;
  }
  const configFile = configFilePath(spec.paths);
  const key = resolveApiKey({ flagFile: options.apiKeyFile, configFile });
  if (!key.ok) {
    process.stderr.write(`error: ${key.error}\n`);
    return ExitCode.usage;
  }
  const running = await askDaemon(controlSocketPath(spec.paths), "status", {
    timeoutMs: 2_000,
  }).catch(() => null);
  if (running && !running.managedBy) {
    process.stderr.write(
      `error: a hub started with \`hybro-hub start\` is running (pid ${running.pid}); stop it first: hybro-hub stop\n`,
    );
    return ExitCode.error;
  }
  // The service reads the saved key (launchd) or its credential copy (systemd); keep both equal.
  saveApiKey(configFile, key.key);
  const { file, calls } = installService(system, spec, key.key);
  process.stdout.write(`wrote ${file}\n`);
  let failed = false;
  for (const call of calls) {
    if (call.ok) continue;
    failed = true;
    process.stderr.write(
      `warning: \`${call.command}\` failed${call.output ? `: ${call.output}` : ""}\n`,
    );
  }
  if (failed) {
    process.stderr.write(
      system === "systemd"
        ? "the unit is written but not running; start it with: systemctl --user enable --now hybro-hub\n"
        : `the agent is written but not loaded; load it with: launchctl bootstrap gui/$(id -u) ${file}\n`,
    );
    return ExitCode.error;
  }
  process.stdout.write(
    system === "systemd"
      ? "hybro-hub service enabled and starting; check with `hybro-hub status` or `systemctl --user status hybro-hub`\n" +
          "to keep it running while you are logged out: loginctl enable-linger $USER\n"
      : "hybro-hub launchd agent loaded; check with `hybro-hub status`\n",
  );
  return ExitCode.ok;
}

function uninstall(options: ServiceOptions): number {
  const system = pickSystem(options);
  if (!system) return ExitCode.usage;
  const { file, existed } = uninstallService(system, serviceKeyFilePath(hubPaths()));
  process.stdout.write(
    existed ? `removed ${file}\n` : `no service file at ${file}; nothing to remove\n`,
  );
  return ExitCode.ok;
}

function status(options: ServiceOptions): number {
  const system = pickSystem(options);
  if (!system) return ExitCode.usage;
  const state = installedServiceState(system, {
    nodePath: process.execPath,
    cliPath: cliEntryPath(),
  });
  if (!state.installed) {
    process.stdout.write(
      `not installed (no ${serviceFilePath(system)}); install with \`hybro-hub service install\`\n`,
    );
    return ExitCode.notRunning;
  }
  process.stdout.write(`installed: ${state.file}\n`);
  if (!state.current) {
    process.stdout.write(
      `warning: it points at another Node or hybro-hub than this one (${process.execPath}); run \`hybro-hub service install\` again\n`,
    );
  }
  const call = managerStatus(system);
  process.stdout.write(`${call.output}\n`);
  return call.ok ? ExitCode.ok : ExitCode.notRunning;
}
