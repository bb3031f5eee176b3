// `hybro-hub doctor`: checks what usually goes wrong, one PASS/FAIL line each with the fix.
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, resolve as resolvePath } from "node:path";
import type { Command } from "commander";
import { checkKeyFormat, resolveApiKey } from "../config/api-key.ts";
import { readConfigFile } from "../config/config-file.ts";
import { configFilePath, defaultAgentsFilePath, type HubPaths, hubPaths } from "../config/paths.ts";
import { controlSocketPath, serviceKeyFilePath } from "../config/runtime-files.ts";
import { askDaemon } from "../control/client.ts";
import type { AgentStatus } from "../control/protocol.ts";
import { defaultServiceSystem, installedServiceState } from "../service/install.ts";
import { ExitCode } from "../system/exit-codes.ts";
import { Agent, EnvHttpProxyAgent, request } from "../system/undici.ts";
import { cliEntryPath } from "./entry-path.ts";
import { chooseGatewayUrl, gatewayUrlOrigin, trimGatewayUrl } from "./gateway-url.ts";
import { MIN_NODE, nodeVersionProblem } from "./node-version.ts";

interface DoctorSettings {
  /** Per relay request (connect + headers + body). */
  requestTimeoutMs: number;
  /** Largest clock difference to the relay that still passes. */
  maxClockSkewMs: number;
}
const DEFAULT_DOCTOR_SETTINGS: DoctorSettings = {
  requestTimeoutMs: 10_000,
  maxClockSkewMs: 30_000,
};

type CheckResult = "PASS" | "FAIL" | "INFO";
export interface Check {
  result: CheckResult;
  name: string;
  detail: string;
  /** What to do about a FAIL. */
  fix?: string;
}

interface DoctorOptions {
  gatewayUrl?: string;
  apiKeyFile?: string;
  agents?: string;
  json?: boolean;
}

export function registerDoctorCommand(program: Command): void {
  program
    .command("doctor")
    .description("check the key, the relay, the config and agents files, permissions and the clock")
    .option(
      "--gateway-url <url>",
      "relay base URL to check (default: the running hub's, else the one `start` would use)",
    )
    .option("--api-key-file <file>", "check the key in this file")
    .option("--agents <file>", "agents file to check")
    .option("--json", "print the checks as JSON")
    .action(async (options: DoctorOptions) => {
      const checks = await runDoctor(hubPaths(), options);
      if (options.json) process.stdout.write(`${JSON.stringify(checks, null, 2)}\n`);
      else process.stdout.write(formatChecks(checks));
      process.exitCode = checks.some((check) => check.result === "FAIL")
        ? ExitCode.error
        : ExitCode.ok;
    });
}

function formatChecks(checks: Check[]): string {
  const lines = checks.map((check) => {
    const head = `${check.result.padEnd(4)}  ${check.name}: ${check.detail}`;
    return check.fix && check.result === "FAIL" ? `${head}\n      fix: ${check.fix}` : head;
  });
  const failed = checks.filter((check) => check.result === "FAIL").length;
  lines.push(
    "",
    failed ? `${failed} problem${failed === 1 ? "" : "s"} found` : "no problems found",
  );
  return `${lines.join("\n")}\n`;
}

export async function runDoctor(
  paths: HubPaths,
  options: DoctorOptions,
  settings: DoctorSettings = DEFAULT_DOCTOR_SETTINGS,
): Promise<Check[]> {
  const checks: Check[] = [];
  const add = (check: Check) => checks.push(check);

  add(
    nodeVersionProblem(process.version, process.execPath) === null
      ? { result: "PASS", name: "node", detail: `${process.version}` }
      : {
          result: "FAIL",
          name: "node",
          detail: `${process.version} is too old`,
          fix: `install Node.js ${MIN_NODE.major}.${MIN_NODE.minor} or newer (24 LTS recommended), then \`hybro-hub service install\` again if you use the service`,
        },
  );

  // Config file: valid, and private.
  const configFile = configFilePath(paths);
  const config = readConfigFile(configFile);
  if (!config.ok) {
    add({
      result: "FAIL",
      name: "config file",
      detail: config.error,
      fix: `fix or delete ${configFile}`,
    });
  } else if (!config.exists) {
    add({
      result: "INFO",
      name: "config file",
      detail: `none at ${configFile} (made by \`start --api-key\` or \`config set-key\`)`,
    });
  } else {
    add({ result: "PASS", name: "config file", detail: `${configFile} is valid` });
  }
  for (const [name, path, wanted] of [
    ["config file permissions", configFile, 0o600],
    ["service key file permissions", serviceKeyFilePath(paths), 0o600],
    ["config folder permissions", paths.config, 0o700],
  ] as const) {
    const problem = permissionProblem(path, wanted);
    if (problem === undefined) continue;
    add(
      problem
        ? { result: "FAIL", name, detail: problem, fix: `chmod ${wanted.toString(8)} ${path}` }
        : { result: "PASS", name, detail: `${path} is private (${wanted.toString(8)})` },
    );
  }

  // Key: where from and well-formed.
  const key = resolveApiKey({ flagFile: options.apiKeyFile, configFile });
  if (key.ok) {
    add({ result: "PASS", name: "API key", detail: `from ${key.source}, format OK` });
  } else {
    add({
      result: "FAIL",
      name: "API key",
      detail: key.error,
      fix: "get a key at hybro.ai, then: hybro-hub config set-key",
    });
  }
  const keyFile = serviceKeyFilePath(paths);
  if (existsSync(keyFile) && config.ok && config.config.apiKey) {
    const same = readFileSync(keyFile, "utf8").trim() === config.config.apiKey.trim();
    add(
      same
        ? {
            result: "PASS",
            name: "service key",
            detail: "the service's key file matches config.json",
          }
        : {
            result: "FAIL",
            name: "service key",
            detail: `${keyFile} (used by the systemd service) holds another key than config.json`,
            fix: "hybro-hub config set-key (updates both), then systemctl --user restart hybro-hub",
          },
    );
  }

  // Agents file.
  const agentsFile = resolvePath(options.agents ?? defaultAgentsFilePath(paths));
  for (const check of await checkAgentsFile(agentsFile)) add(check);

  // Relay: reachable, key accepted, clock. The one checked is the flag's, else the running hub's
  // (what it is connected to), else the one the next `start` would use; when the running hub's
  // differs from the next start's, both are checked.
  const status = await askDaemon(controlSocketPath(paths), "status", { timeoutMs: 3_000 }).catch(
    () => null,
  );
  const next = chooseGatewayUrl({ configFile, flag: options.gatewayUrl });
  const running = status?.gatewayUrl ? trimGatewayUrl(status.gatewayUrl) : null;
  const nextTarget = { url: next.url, whose: gatewayUrlOrigin(next.source), suffix: "" };
  const targets = [nextTarget];
  if (running && !options.gatewayUrl) {
    targets[0] = { url: running, whose: "the running hub's", suffix: "" };
    if (next.url !== running) {
      add({
        result: "INFO",
        name: "relay setting",
        detail: `the running hub uses ${running}; the next start uses ${next.url} (${nextTarget.whose})`,
      });
      targets.push({ ...nextTarget, suffix: " (next start)" });
    }
  }
  for (const target of targets) {
    const found = await checkRelay(target.url, key.ok ? key.key : null, settings, target.whose);
    for (const check of found) add({ ...check, name: `${check.name}${target.suffix}` });
  }

  // The running daemon and the service.
  if (!status) {
    add({
      result: "INFO",
      name: "daemon",
      detail: "not running (start it with `hybro-hub start`)",
    });
  } else if (status.relay.connection === "open") {
    add({
      result: "PASS",
      name: "daemon",
      detail: `running (pid ${status.pid}), connected to the relay`,
    });
  } else {
    add({
      result: "FAIL",
      name: "daemon",
      detail: `running (pid ${status.pid}) but the relay link is ${status.relay.connection}${status.relay.lastError ? `: ${status.relay.lastError}` : ""}`,
      fix: "see `hybro-hub logs`; the hub keeps retrying on its own",
    });
  }
  if (status?.relay.problem) {
    const problem = status.relay.problem;
    add({
      result: "FAIL",
      name: "relay stream",
      detail: problem.message,
      fix:
        problem.kind === "duplicate_hub"
          ? "run one hub per hub id: stop the other hybro-hub, or give the copy its own hub id (delete the hub_id file in its data directory, start it again)"
          : "register this hub id with this key's account only: if the data directory was copied, give the copy its own hub id (delete the hub_id file in its data directory, start it again)",
    });
  }
  for (const check of agentsNotAtRelay(status?.agents ?? [])) add(check);
  const system = defaultServiceSystem();
  if (system) {
    const service = installedServiceState(system, {
      nodePath: process.execPath,
      cliPath: cliEntryPath(),
    });
    if (service.installed) {
      add(
        service.current
          ? {
              result: "PASS",
              name: "service",
              detail: `${service.file} points at this Node and hybro-hub`,
            }
          : {
              result: "FAIL",
              name: "service",
              detail: `${service.file} points at another Node or hybro-hub (after an upgrade?)`,
              fix: "hybro-hub service install",
            },
      );
    }
  }
  return checks;
}

/** One FAIL per agent of the running hub that the relay did not keep at the last sync. */
export function agentsNotAtRelay(agents: readonly AgentStatus[]): Check[] {
  return agents
    .filter((agent) => agent.notKeptByRelay)
    .map((agent) => ({
      result: "FAIL" as const,
      name: "agent at the relay",
      detail: `"${agent.name}" (${agent.localAgentId}): ${agent.notKeptByRelay}`,
      fix: "correct the agent's card (or its entry in the agents file); the hub syncs again on its own",
    }));
}

/** undefined: no such file; "": fine; else what is wrong. */
function permissionProblem(path: string, wanted: number): string | undefined {
  if (process.platform === "win32") return undefined;
  let mode: number;
  try {
    mode = statSync(path).mode & 0o777;
  } catch {
    return undefined;
  }
  if (mode & 0o077 & ~wanted) {
    return `${path} is readable by other users (mode ${mode.toString(8)})`;
  }
  return "";
}

async function checkAgentsFile(file: string): Promise<Check[]> {
  if (!existsSync(file)) {
    return [
      {
        result: "FAIL",
        name: "agents file",
        detail: `none at ${file}: the hub has no agents to serve`,
        fix: "`hybro-hub init` writes a ready one (the example), or pass --agents FILE",
      },
    ];
  }
  const { loadAgentsFile } = await import("../daemon/agents-file.ts");
  const loaded = await loadAgentsFile(file);
  if (!loaded.ok) {
    return [{ result: "FAIL", name: "agents file", detail: loaded.error, fix: `correct ${file}` }];
  }
  const count = loaded.config.agents.length;
  const checks: Check[] = [
    {
      result: "PASS",
      name: "agents file",
      detail: `${file}: ${count} agent${count === 1 ? "" : "s"}${loaded.warnings.length ? ` (${loaded.warnings.join("; ")})` : ""}`,
    },
  ];
  // A copied file whose stdio agent's script stayed behind crash-loops; say so before it runs.
  for (const entry of loaded.config.agents) {
    if (entry.kind !== "stdio" || !entry.enabled) continue;
    const folder = entry.cwd ?? dirname(file);
    const missing = missingScripts(entry.command, entry.args, folder);
    if (missing.length === 0) continue;
    checks.push({
      result: "FAIL",
      name: `agent "${entry.name}"`,
      detail: `${missing.join(", ")} not found in ${folder} (its cwd), so the agent cannot start`,
      fix: "copy it there or correct the path (relative paths start at the agents file's folder); `hybro-hub init` writes the example with its agent",
    });
  }
  return checks;
}

/** Script files a stdio entry names (a path-like command, or an argument such as `x.mjs`) that are not there. */
function missingScripts(command: string, args: string[], cwd: string): string[] {
  const script = /\.(?:[cm]?js|[cm]?ts|py|sh|rb)$/;
  const named = [...(command.includes("/") ? [command] : []), ...args];
  return named.filter(
    (word) =>
      !word.startsWith("-") &&
      (word === command || script.test(word)) &&
      !existsSync(resolvePath(cwd, word)),
  );
}

/** `whose` says where the URL came from, e.g. "the running hub's" or "the default". */
async function checkRelay(
  gatewayUrl: string,
  key: string | null,
  settings: DoctorSettings,
  whose: string,
): Promise<Check[]> {
  const timeouts = {
    connect: { timeout: settings.requestTimeoutMs },
    headersTimeout: settings.requestTimeoutMs,
    bodyTimeout: settings.requestTimeoutMs,
  };
  // The same proxy variables the relay link honours, so the check sees what the hub sees.
  const proxied = ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"].some(
    (name) => process.env[name],
  );
  const dispatcher = proxied ? new EnvHttpProxyAgent(timeouts) : new Agent(timeouts);
  const checks: Check[] = [];
  try {
    const headers: Record<string, string> = { accept: "application/json" };
    if (key && !checkKeyFormat(key, "key")) headers["x-api-key"] = key;
    const get = async (path: string) => {
      const response = await request(`${gatewayUrl}${path}`, {
        method: "GET",
        headers,
        dispatcher,
        signal: AbortSignal.timeout(settings.requestTimeoutMs),
      });
      const text = await response.body.text();
      return { status: response.statusCode, headers: response.headers, text };
    };
    const sentAt = Date.now();
    let answer: Awaited<ReturnType<typeof get>>;
    try {
      answer = await get("/api/v1/auth/verify");
    } catch (error) {
      checks.push({
        result: "FAIL",
        name: "relay",
        detail: `cannot reach ${gatewayUrl} (${whose}): ${(error as Error).message}`,
        fix: "check the network (and HTTPS_PROXY if you need a proxy) and the URL; `hybro-hub config set gateway-url URL` saves another",
      });
      return checks;
    }
    const receivedAt = Date.now();
    checks.push({
      result: "PASS",
      name: "relay",
      detail: `${gatewayUrl} (${whose}) answered (HTTP ${answer.status} in ${receivedAt - sentAt} ms)`,
    });
    if (answer.status === 404) answer = await get("/api/v1/relay/hub/status"); // no verify endpoint
    if (!key) {
      checks.push({ result: "INFO", name: "key at the relay", detail: "not checked: no key" });
    } else if (answer.status >= 200 && answer.status < 300) {
      const who = safeJson(answer.text) as { user_id?: string; name?: string } | null;
      checks.push({
        result: "PASS",
        name: "key at the relay",
        detail: `accepted${who?.name ? ` (key "${who.name}"${who.user_id ? ` of ${who.user_id}` : ""})` : ""}`,
      });
    } else if (answer.status === 401 || answer.status === 403) {
      const detail = (safeJson(answer.text) as { detail?: { message?: string } } | null)?.detail
        ?.message;
      checks.push({
        result: "FAIL",
        name: "key at the relay",
        detail: `refused (HTTP ${answer.status}${detail ? `: ${detail}` : ""})`,
        fix: "make a new key at hybro.ai, then: hybro-hub config set-key",
      });
    } else {
      checks.push({
        result: "FAIL",
        name: "key at the relay",
        detail: `could not be checked: HTTP ${answer.status}`,
        fix: "try again later; if it persists, check the --gateway-url",
      });
    }
    const date = answer.headers.date;
    const serverTime = typeof date === "string" ? Date.parse(date) : Number.NaN;
    if (Number.isNaN(serverTime)) {
      checks.push({ result: "INFO", name: "clock", detail: "the relay sent no Date header" });
    } else {
      // The Date header has 1 s resolution; compare with the middle of the request.
      const skewMs = Math.round(serverTime + 500 - (sentAt + receivedAt) / 2);
      checks.push(
        Math.abs(skewMs) <= settings.maxClockSkewMs
          ? {
              result: "PASS",
              name: "clock",
              detail: `within ${Math.max(1, Math.ceil(Math.abs(skewMs) / 1000))} s of the relay`,
            }
          : {
              result: "FAIL",
              name: "clock",
              detail: `${Math.round(skewMs / 1000)} s off the relay's clock`,
              fix: "turn on time synchronisation (e.g. `timedatectl set-ntp true`, or System Settings → Date & Time)",
            },
      );
    }
    return checks;
  } finally {
    await dispatcher.close();
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
