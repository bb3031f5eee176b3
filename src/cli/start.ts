// `hybro-hub start`: in the background by default (returns once the daemon is ready or has
// failed), or `--foreground` for a terminal, systemd and launchd.
import { resolve as resolvePath } from "node:path";
import { type Command, Option } from "commander";
import { resolveApiKey } from "../config/api-key.ts";
import { readConfigFile } from "../config/config-file.ts";
import { configFilePath, defaultAgentsFilePath, type HubPaths, hubPaths } from "../config/paths.ts";
import { logFilePath } from "../config/runtime-files.ts";
import { runDaemonProcess } from "../daemon/process.ts";
import type { StartupReport } from "../daemon/run.ts";
import { DEFAULT_INSPECT_ADDRESS, parseInspectAddress } from "../inspector/access.ts";
import { createLogger, type Logger } from "../log/logger.ts";
import { RotatingFile } from "../log/rotating-file.ts";
import { takeNotifySocket } from "../service/systemd-notify.ts";
import { ExitCode } from "../system/exit-codes.ts";
import { parseListenAddress } from "../system/listen-address.ts";
import {
  ALLOW_PLAIN_HTTP_FLAG,
  metricsExposureWarning,
  plainHttpRelayProblem,
} from "../system/listen-warning.ts";
import { DEFAULT_GATEWAY_URL } from "../wire/gateway.ts";
import { chooseGatewayUrl } from "./gateway-url.ts";
import { KEY_ON_COMMAND_LINE, keyOnCommandLineOption } from "./key-on-command-line.ts";
import { launchInBackground } from "./start-background.ts";
import { consoleStartupReport, pipeStartupReport, withSystemdNotify } from "./startup-report.ts";

export const DEFAULT_SHUTDOWN_GRACE_MS = "10000";
/** How long a background `start` waits for "ready" before leaving the daemon to keep trying. */
export const DEFAULT_READY_TIMEOUT_MS = "30000";

export interface StartOptions {
  /** Only to refuse it: a key on the command line shows in `ps` and shell history. */
  apiKey?: string;
  apiKeyFile?: string;
  gatewayUrl?: string;
  agents?: string;
  foreground?: boolean;
  logLevel: string;
  logFile?: string;
  metrics?: string;
  /** `--inspect` alone: true (the default address). */
  inspect?: string | true;
  shutdownGraceMs: string;
  readyTimeoutMs: string;
  /** Use a plain-http relay URL beyond loopback (the key travels in clear). */
  allowPlainHttp?: boolean;
  /** Internal: this process is the background child of `start` (key on stdin, report on fd 3). */
  daemonChild?: boolean;
}

/** The options of `start`, shared with `restart`. */
export function addStartOptions(command: Command): Command {
  return command
    .addOption(keyOnCommandLineOption())
    .option("--api-key-file <file>", "read the key from a file instead of the saved one")
    .addOption(
      new Option("--gateway-url <url>", `relay base URL (default ${DEFAULT_GATEWAY_URL})`).env(
        "HYBRO_GATEWAY_URL",
      ),
    )
    .option(
      ALLOW_PLAIN_HTTP_FLAG,
      "allow an http:// relay URL on another machine (the API key travels unencrypted)",
    )
    .option("--agents <file>", "agents file (default: agents.json in the config directory)")
    .option("-f, --foreground", "stay in the foreground, logging to the terminal")
    .addOption(
      new Option("--log-level <level>", "log level")
        .choices(["trace", "debug", "info", "warn", "error"])
        .default("info"),
    )
    .option(
      "--log-file <file>",
      "foreground: write JSON logs to this file (rotated) instead of stderr",
    )
    .option("--metrics <host:port>", "serve Prometheus metrics and /ready, e.g. 127.0.0.1:9464")
    .option(
      "--inspect [addr]",
      `serve the local inspector (every turn, live, in the browser) on loopback (default ${DEFAULT_INSPECT_ADDRESS})`,
    )
    .option(
      "--shutdown-grace-ms <ms>",
      "how long running turns may finish on stop",
      DEFAULT_SHUTDOWN_GRACE_MS,
    )
    .option(
      "--ready-timeout-ms <ms>",
      "background: how long to wait for the relay before leaving the hub to keep retrying",
      DEFAULT_READY_TIMEOUT_MS,
    )
    .addOption(new Option("--daemon-child").hideHelp());
}

export function registerStartCommand(program: Command): void {
  addStartOptions(
    program
      .command("start")
      .description("connect to the relay and serve the agents in agents.json (in the background)"),
  ).action(async (options: StartOptions) => {
    const code = await runStart(options);
    // The daemon's own modes end the process: nothing may keep a stopped hub alive.
    if (options.foreground || options.daemonChild) process.exit(code);
    process.exitCode = code;
  });
}

export async function runStart(options: StartOptions): Promise<number> {
  if (options.apiKey !== undefined) {
    process.stderr.write(`error: ${KEY_ON_COMMAND_LINE}\n`);
    return ExitCode.usage;
  }
  if (options.daemonChild) return runBackgroundChild(options);
  if (options.foreground) return runForeground(options);
  return runLauncher(options);
}

/** The non-secret start options, as arguments (paths made absolute): the child's and restart's. */
export function launchArguments(options: StartOptions): string[] {
  const args: string[] = [];
  if (options.apiKeyFile) args.push("--api-key-file", resolvePath(options.apiKeyFile));
  if (options.gatewayUrl) args.push("--gateway-url", options.gatewayUrl);
  if (options.allowPlainHttp) args.push(ALLOW_PLAIN_HTTP_FLAG);
  if (options.agents) args.push("--agents", resolvePath(options.agents));
  args.push("--log-level", options.logLevel);
  if (options.metrics) args.push("--metrics", options.metrics);
  if (options.inspect) args.push("--inspect", inspectAddressOf(options));
  if (options.shutdownGraceMs !== DEFAULT_SHUTDOWN_GRACE_MS)
    args.push("--shutdown-grace-ms", options.shutdownGraceMs);
  return args;
}

/** The `--inspect` address as given (the default when given without one). */
function inspectAddressOf(options: StartOptions): string {
  return options.inspect === true || options.inspect === undefined
    ? DEFAULT_INSPECT_ADDRESS
    : options.inspect;
}

interface Resolved {
  paths: HubPaths;
  configFile: string;
  gatewayUrl: string;
  agentsFile: string;
  configWarnings: string[];
  /** Why the relay URL is refused (plain http beyond loopback without the flag), or null. */
  refusal: string | null;
}

function resolveCommon(options: StartOptions): Resolved {
  const paths = hubPaths();
  const configFile = configFilePath(paths);
  const config = readConfigFile(configFile);
  // The flag already holds HYBRO_GATEWAY_URL (commander reads it), hence no environment here.
  const gatewayUrl = chooseGatewayUrl({ flag: options.gatewayUrl, env: {}, configFile }).url;
  const agentsFile = resolvePath(options.agents ?? defaultAgentsFilePath(paths));
  const configWarnings = config.ok ? [...config.warnings] : [];
  const plainHttp = plainHttpRelayProblem(gatewayUrl);
  let refusal: string | null = null;
  if (plainHttp && options.allowPlainHttp)
    configWarnings.push(`${plainHttp} (${ALLOW_PLAIN_HTTP_FLAG})`);
  else if (plainHttp) {
    refusal = `${plainHttp}; use https://, or pass ${ALLOW_PLAIN_HTTP_FLAG} if this network is yours and you mean it`;
  }
  return { paths, configFile, gatewayUrl, agentsFile, configWarnings, refusal };
}

/** The key from environment, file, credential or config. */
function resolveKeyForStart(
  options: StartOptions,
  configFile: string,
): { ok: true; key: string; source: string } | { ok: false; error: string } {
  const resolved = resolveApiKey({ flagFile: options.apiKeyFile, configFile });
  // Keep the key out of the environment any child process could inherit.
  delete process.env.HYBRO_API_KEY;
  return resolved;
}

function daemonLogger(options: StartOptions, logFile: string | null, secrets: Set<string>): Logger {
  return createLogger({
    level: options.logLevel,
    pretty: !logFile && process.stderr.isTTY === true,
    secrets: () => secrets,
    ...(logFile ? { destination: new RotatingFile(logFile) } : {}),
  });
}

/** What differs between a foreground hub and the background child; see `runHub`. */
interface HubRun {
  apiKey: string;
  keySource: string;
  logFile: string | null;
  /** Made once the logger exists (a systemd report logs through it). */
  report: (logger: Logger) => StartupReport;
}

/** Runs the daemon in this process, logging with the key masked; resolves to the exit code. */
function runHub(options: StartOptions, common: Resolved, run: HubRun): Promise<number> {
  const secrets = new Set<string>([run.apiKey]);
  const logger = daemonLogger(options, run.logFile, secrets);
  for (const warning of common.configWarnings) logger.warn(warning);
  const report = run.report(logger);
  return runDaemonProcess({
    ...common,
    apiKey: run.apiKey,
    keySource: run.keySource,
    apiKeyFile: options.apiKeyFile ? resolvePath(options.apiKeyFile) : undefined,
    shutdownGraceMs: Number(options.shutdownGraceMs),
    logger,
    secrets,
    logFile: run.logFile,
    metrics: options.metrics,
    inspect: options.inspect ? inspectAddressOf(options) : undefined,
    report,
    launch: launchArguments(options),
  });
}

async function runForeground(options: StartOptions): Promise<number> {
  const common = resolveCommon(options);
  if (common.refusal) return refuse(common.refusal);
  const key = resolveKeyForStart(options, common.configFile);
  if (!key.ok) {
    process.stderr.write(`error: ${key.error}\n`);
    return ExitCode.usage;
  }
  const notifySocket = takeNotifySocket();
  return runHub(options, common, {
    apiKey: key.key,
    keySource: key.source,
    logFile: options.logFile ? resolvePath(options.logFile) : null,
    report: (logger) =>
      withSystemdNotify(
        // Under a service manager stdout goes to its journal: no token there.
        consoleStartupReport({
          showInspectorToken: !notifySocket && process.env.HYBRO_HUB_SERVICE === undefined,
        }),
        notifySocket,
        logger,
      ),
  });
}

/** The background child: the key arrives on stdin (never argv or environment). */
async function runBackgroundChild(options: StartOptions): Promise<number> {
  const report = pipeStartupReport();
  const common = resolveCommon(options);
  let handoff: { apiKey?: unknown; keySource?: unknown };
  try {
    handoff = JSON.parse(await readStdin()) as typeof handoff;
  } catch {
    handoff = {};
  }
  if (typeof handoff.apiKey !== "string" || !handoff.apiKey) {
    report.failed("internal: the background hub got no key from `start`", ExitCode.error);
    return ExitCode.error;
  }
  return runHub(options, common, {
    apiKey: handoff.apiKey,
    keySource: typeof handoff.keySource === "string" ? handoff.keySource : "hybro-hub start",
    logFile: resolvePath(options.logFile ?? logFilePath(common.paths)),
    report: () => report,
  });
}

async function runLauncher(options: StartOptions): Promise<number> {
  const common = resolveCommon(options);
  if (common.refusal) return refuse(common.refusal);
  const key = resolveKeyForStart(options, common.configFile);
  if (!key.ok) {
    process.stderr.write(`error: ${key.error}\n`);
    return ExitCode.usage;
  }
  const inspect = options.inspect ? parseInspectAddress(inspectAddressOf(options)) : null;
  if (inspect && !inspect.ok) {
    process.stderr.write(`error: --inspect ${inspect.error}\n`);
    return ExitCode.usage;
  }
  const warnings = [...common.configWarnings];
  const metrics = options.metrics ? parseListenAddress(options.metrics) : null;
  const exposed = metrics && metricsExposureWarning(options.metrics as string, metrics.host);
  if (exposed) warnings.push(exposed);
  for (const warning of warnings) process.stderr.write(`warning: ${warning}\n`);
  return launchInBackground({
    paths: common.paths,
    apiKey: key.key,
    keySource: key.source,
    args: launchArguments(options),
    readyTimeoutMs: Number(options.readyTimeoutMs),
  });
}

function refuse(message: string): number {
  process.stderr.write(`error: ${message}\n`);
  return ExitCode.usage;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
