// `hybro-hub dev`: the one-command local setup. The development relay (in memory) and a hub with
// an agents file run in this process; it prints a ready curl line per agent. Nothing is written
// to the user's config, and Ctrl-C stops both.
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { dirname, resolve as resolvePath } from "node:path";
import { type Command, Option } from "commander";
import { DEFAULT_INSPECT_ADDRESS, parseInspectAddress } from "../inspector/access.ts";
import { createLogger } from "../log/logger.ts";
import { ExitCode } from "../system/exit-codes.ts";
import { packagePath } from "./entry-path.ts";

export const DEV_DEFAULT_PORT = "8787";
export const DEV_AGENTS_FILE = "agents.example.json";
/** How long `dev` waits for the hub to register and sync before saying what is wrong. */
export const DEV_READY_TIMEOUT_MS = 30_000;

interface DevOptions {
  port: string;
  host: string;
  agents?: string;
  logLevel: string;
  message: string;
  /** The inspector's address, or false (`--no-inspect`). */
  inspect: string | false;
}

export function registerDevCommand(program: Command): void {
  program
    .command("dev")
    .description(
      "run a local development relay and a hub together, and print how to reach each agent",
    )
    .option("--port <port>", "relay port (0 picks a free one)", DEV_DEFAULT_PORT)
    .option("--host <host>", "relay interface", "127.0.0.1")
    .option("--agents <file>", `agents file (default: ./${DEV_AGENTS_FILE}, else the packaged one)`)
    .addOption(
      new Option("--log-level <level>", "log level")
        .choices(["trace", "debug", "info", "warn", "error"])
        .default("warn"),
    )
    .option("--message <text>", "the text in the printed curl lines", "Hello!")
    .option(
      "--inspect <addr>",
      "the local inspector's address (loopback; a free port when the default one is taken)",
      DEFAULT_INSPECT_ADDRESS,
    )
    .option("--no-inspect", "do not serve the local inspector")
    .action(async (options: DevOptions) => {
      const code = await runDev(options);
      process.exit(code);
    });
}

/** ./agents.example.json when run from a checkout, else the one shipped in the package. */
export function defaultDevAgentsFile(cwd = process.cwd()): string {
  const local = resolvePath(cwd, DEV_AGENTS_FILE);
  if (existsSync(local)) return local;
  return packagePath(DEV_AGENTS_FILE);
}

/** A curl command for the gateway's message/send of one agent. */
export function curlLine(relayUrl: string, agentId: string, key: string, text: string): string {
  const body = JSON.stringify({
    message: { role: "user", parts: [{ kind: "text", text }] },
  });
  const quote = (value: string) => `'${value.replaceAll("'", "'\\''")}'`;
  return [
    `curl -s ${relayUrl}/api/v1/gateway/agents/${agentId}/message/send`,
    `  -H ${quote(`X-API-Key: ${key}`)} -H 'Content-Type: application/json'`,
    `  -d ${quote(body)}`,
  ].join(" \\\n");
}

async function runDev(options: DevOptions): Promise<number> {
  const agentsFile = options.agents ? resolvePath(options.agents) : defaultDevAgentsFile();
  const inspectAt = options.inspect === false ? null : parseInspectAddress(options.inspect);
  if (inspectAt && !inspectAt.ok) {
    process.stderr.write(`error: --inspect ${inspectAt.error}\n`);
    return ExitCode.usage;
  }
  if (!existsSync(agentsFile)) {
    process.stderr.write(`error: no agents file at ${agentsFile}; pass --agents FILE\n`);
    return ExitCode.usage;
  }
  // Starting takes a few seconds (agents start, the hub registers): say so at once. One plain
  // line, not a spinner: warnings logged while agents start would land inside a spinner's line.
  process.stderr.write(
    `hybro-hub dev: starting a development relay and a hub for the agents in ${agentsFile}…\n`,
  );
  // The example's commands are relative to its own folder (the package, when not in a checkout).
  if (!options.agents) process.chdir(dirname(agentsFile));
  const { generateApiKey, startDevRelay } = await import("../devrelay/index.ts");
  const { HubDaemon } = await import("../daemon/daemon.ts");
  const secrets = new Set<string>();
  const logger = createLogger({
    level: options.logLevel,
    pretty: process.stderr.isTTY === true,
    secrets: () => secrets,
  });

  let relay: Awaited<ReturnType<typeof startDevRelay>>;
  try {
    relay = await startDevRelay({
      port: Number(options.port),
      host: options.host,
      memory: true,
      adminKey: generateApiKey(),
      logger: logger.child({ part: "devrelay" }),
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    process.stderr.write(
      code === "EADDRINUSE"
        ? `error: port ${options.port} is in use (another \`hybro-hub dev\`?); pass --port 0 for a free one\n`
        : `error: the development relay did not start: ${(error as Error).message}\n`,
    );
    return ExitCode.error;
  }
  const hubKey = relay.createKey({ name: "dev hub", scopes: ["relay:hub"] }).key;
  const gatewayKey = relay.createKey({
    name: "dev gateway",
    scopes: ["gateway:read", "gateway:send", "discovery:read"],
  }).key;
  secrets.add(hubKey); // the gateway key is printed on purpose; the hub's stays out of the logs
  const hubId = randomBytes(16).toString("hex");
  const { createInspector } = await import("../inspector/index.ts");
  const inspector = inspectAt
    ? createInspector({
        address: inspectAt.address,
        logger: logger.child({ part: "inspector" }),
        fallbackToFreePort: options.inspect === DEFAULT_INSPECT_ADDRESS,
      })
    : null;
  if (inspector) secrets.add(inspector.token);
  const daemon = new HubDaemon({
    hubId,
    gatewayUrl: relay.url,
    apiKey: () => hubKey,
    keySource: "hybro-hub dev",
    agentsFile,
    logger: logger.child({ part: "hub" }),
    ...(inspector ? { observer: inspector.recorder } : {}),
  });

  let stopping: Promise<number> | null = null;
  const stop = (code: number) => {
    stopping ??= (async () => {
      await daemon.stop({ graceMs: 2_000, flushTimeoutMs: 1_000 }).catch(() => {});
      await inspector?.close();
      await relay.close();
      return code;
    })();
    return stopping;
  };
  const stopped = new Promise<number>((resolve) => {
    const onSignal = () => {
      if (stopping) process.exit(ExitCode.forced);
      process.stderr.write("\nstopping the hub and the development relay…\n");
      void stop(ExitCode.ok).then(resolve);
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    daemon.on("fatal", (error) => {
      process.stderr.write(`error: ${error.message}\n`);
      void stop(ExitCode.auth).then(resolve);
    });
  });

  let inspectorUrl: string | null = null;
  if (inspector) {
    try {
      inspectorUrl = await inspector.attach(daemon);
    } catch (error) {
      process.stderr.write(
        `error: the inspector cannot listen on ${options.inspect}: ${(error as Error).message}; pass another --inspect address or --no-inspect\n`,
      );
      return stop(ExitCode.error);
    }
  }
  const ready = once(daemon, "ready", { signal: AbortSignal.timeout(DEV_READY_TIMEOUT_MS) });
  await daemon.start();
  try {
    await ready;
  } catch {
    process.stderr.write(
      `error: the hub did not become ready within ${DEV_READY_TIMEOUT_MS / 1000} s; see the log above\n`,
    );
    return stop(ExitCode.error);
  }
  process.stdout.write(
    devBanner(relay.url, gatewayKey, agentsFile, options.message, agentLines(), inspectorUrl),
  );
  return stopped;

  /** Agents in the roster get a curl line; configured ones that did not start, the reason. */
  function agentLines(): DevAgent[] {
    return daemon.registry
      .status()
      .filter((agent) => agent.state !== "disabled")
      .map((agent) => ({
        name: agent.name,
        kind: agent.kind,
        id: agent.state === "unreachable" ? null : relay.agentId(hubId, agent.localAgentId),
        healthy: agent.state === "ready",
        problem: agent.state === "unreachable" ? (agent.lastError ?? "not started yet") : null,
      }));
  }
}

export interface DevAgent {
  name: string;
  kind: string;
  /** The relay's agent id; null when the agent is not in the roster (it never answered). */
  id: string | null;
  healthy: boolean;
  /** Why an agent without an id is not there. */
  problem?: string | null;
}

/** `# Echo (stdio)`: the transport is added unless the name already says it. */
export function agentHeading(name: string, kind: string, note?: string): string {
  const tags = name.toLowerCase().includes(`(${kind.toLowerCase()})`) ? [] : [kind];
  if (note) tags.push(note);
  return tags.length > 0 ? `# ${name} (${tags.join(", ")})` : `# ${name}`;
}

export function devBanner(
  relayUrl: string,
  key: string,
  agentsFile: string,
  message: string,
  agents: DevAgent[],
  inspectorUrl: string | null = null,
): string {
  const reachable = agents.filter((agent) => agent.id !== null);
  const lines = [
    "",
    `hybro-hub dev: relay ${relayUrl} (in memory), hub ready with ${reachable.length} agent${reachable.length === 1 ? "" : "s"} from ${agentsFile}`,
    `gateway key (development only, gone when this stops): ${key}`,
    "",
  ];
  for (const agent of agents) {
    if (agent.id === null) {
      lines.push(agentHeading(agent.name, agent.kind, "not available"));
      lines.push(`#   ${agent.problem ?? "it has not answered yet"}`, "");
      continue;
    }
    lines.push(agentHeading(agent.name, agent.kind, agent.healthy ? "" : "not answering yet"));
    lines.push(curlLine(relayUrl, agent.id, key, message), "");
  }
  if (agents.length === 0)
    lines.push(`no agents in ${agentsFile}; add some and they appear here`, "");
  if (inspectorUrl)
    lines.push(`inspector (every turn, live, in your browser): ${inspectorUrl}`, "");
  lines.push("Ctrl-C stops the hub and the relay.", "");
  return lines.join("\n");
}
