// `hybro-hub discover`, `send` and `chat`: the Gateway SDK from a terminal. They share the key
// sources of `start` (never a key on the command line) and `--gateway-url`.
import { type Command, type CommanderError, InvalidArgumentError, Option } from "commander";
import { resolveApiKey } from "../config/api-key.ts";
import { configFilePath, hubPaths } from "../config/paths.ts";
import {
  AccessDeniedError,
  AgentNotFoundError,
  AuthError,
  GatewayConnectionError,
  GatewayError,
  HybroGateway,
  RateLimitError,
  renderTask,
} from "../sdk/index.ts";
import { ExitCode } from "../system/exit-codes.ts";
import type { DiscoveredAgent } from "../wire/gateway.ts";
import { DEFAULT_GATEWAY_URL } from "../wire/gateway.ts";
import { runChat } from "./chat.ts";
import { chooseGatewayUrl } from "./gateway-url.ts";
import { KEY_ON_COMMAND_LINE, keyOnCommandLineOption } from "./key-on-command-line.ts";

/** Exit codes of the gateway commands: the shared ones plus not-found and rate-limited. */
export const GatewayExitCode = {
  ...ExitCode,
  /** The agent (or endpoint) does not exist for this key. */
  notFound: 4,
  /** 429: the message says when to retry. */
  rateLimited: 5,
} as const;

const KEY_HELP = `
API key (first found wins): HYBRO_API_KEY, --api-key-file FILE, the saved config file
(written by \`hybro-hub config set-key\`). Keys are never accepted on the command line:
they would show up in process lists and shell history.

Exit codes: 0 ok, 1 error, 2 usage, 3 missing or refused key, 4 not found, 5 rate limited.`;

interface GatewayCommandOptions {
  apiKeyFile?: string;
  gatewayUrl?: string;
  /** Only to refuse it with a clear message. */
  apiKey?: string;
}

/** What went wrong, as one line for the terminal and an exit code. */
interface CommandFailure {
  message: string;
  exitCode: number;
}

class CommandFailed extends Error {
  readonly exitCode: number;
  constructor(failure: CommandFailure) {
    super(failure.message);
    this.name = "CommandFailed";
    this.exitCode = failure.exitCode;
  }
}

/**
 * One line for any error of a gateway call. `keySource` names where the key came from (never
 * the key), so a refused key says which one to fix.
 */
export function describeGatewayFailure(
  error: unknown,
  context: { keySource?: string; agentId?: string } = {},
): CommandFailure {
  const key = context.keySource ? `the API key from ${context.keySource}` : "the API key";
  if (error instanceof CommandFailed) return { message: error.message, exitCode: error.exitCode };
  if (error instanceof RateLimitError) {
    return {
      message: `rate limit exceeded, retry in ${error.retryAfterS} s (${error.message})`,
      exitCode: GatewayExitCode.rateLimited,
    };
  }
  if (error instanceof AuthError) {
    return {
      message: `the gateway refused ${key} (${error.code}): ${error.message}`,
      exitCode: GatewayExitCode.auth,
    };
  }
  if (error instanceof AccessDeniedError) {
    const scope = error.requiredScope ? ` the "${error.requiredScope}" scope` : " a needed scope";
    return {
      message: `${key} lacks${scope}: ${error.message}; create a key with that scope`,
      exitCode: GatewayExitCode.auth,
    };
  }
  if (error instanceof AgentNotFoundError) {
    const what = context.agentId ? `agent "${context.agentId}" not found` : "not found";
    return {
      message: `${what}: ${error.message} (try \`hybro-hub discover\`; is --gateway-url right?)`,
      exitCode: GatewayExitCode.notFound,
    };
  }
  if (error instanceof GatewayConnectionError) {
    return { message: error.message, exitCode: GatewayExitCode.error };
  }
  if (error instanceof GatewayError) {
    const status = error.status ? `, HTTP ${error.status}` : "";
    return {
      message: `${error.message} (${error.code}${status})`,
      exitCode: GatewayExitCode.error,
    };
  }
  return {
    message: error instanceof Error ? error.message : String(error),
    exitCode: GatewayExitCode.error,
  };
}

/** The SDK base URL for a gateway URL: `<url>/api/v1` (kept when already given). */
export function gatewayBaseUrl(gatewayUrl: string): string {
  const trimmed = gatewayUrl.trim().replace(/\/+$/, "");
  return trimmed.endsWith("/api/v1") ? trimmed : `${trimmed}/api/v1`;
}

/** A ready client from the command's options, and where its key came from. */
function openGateway(options: GatewayCommandOptions): {
  gateway: HybroGateway;
  keySource: string;
} {
  if (options.apiKey !== undefined) {
    throw new CommandFailed({ message: KEY_ON_COMMAND_LINE, exitCode: GatewayExitCode.usage });
  }
  const configFile = configFilePath(hubPaths());
  const resolved = resolveApiKey({ flagFile: options.apiKeyFile, configFile });
  if (!resolved.ok) {
    const message = resolved.error.startsWith("no API key")
      ? "no API key: set HYBRO_API_KEY, use --api-key-file FILE, or save one with `hybro-hub start --api-key hybro_…`"
      : resolved.error;
    throw new CommandFailed({ message, exitCode: GatewayExitCode.auth });
  }
  const gatewayUrl = chooseGatewayUrl({ flag: options.gatewayUrl, env: {}, configFile }).url;
  try {
    new URL(gatewayUrl);
  } catch {
    throw new CommandFailed({
      message: `--gateway-url "${gatewayUrl}" is not a URL (e.g. https://api.hybro.ai)`,
      exitCode: GatewayExitCode.usage,
    });
  }
  const gateway = new HybroGateway({ apiKey: resolved.key, baseUrl: gatewayBaseUrl(gatewayUrl) });
  return { gateway, keySource: resolved.source };
}

function withGatewayOptions(command: Command): Command {
  return command
    .option("--api-key-file <file>", "read the API key from this file")
    .addOption(
      new Option("--gateway-url <url>", `gateway base URL (default ${DEFAULT_GATEWAY_URL})`).env(
        "HYBRO_GATEWAY_URL",
      ),
    )
    .addOption(keyOnCommandLineOption())
    .addHelpText("after", KEY_HELP)
    .exitOverride((error: CommanderError) => {
      // Help and version end with 0; every parse error is a usage error.
      process.exit(error.exitCode === 0 ? 0 : GatewayExitCode.usage);
    });
}

/** Runs a command body: errors become one `error: …` line and the exit code. */
async function runCommand(
  options: GatewayCommandOptions,
  agentId: string | undefined,
  body: (gateway: HybroGateway, keySource: string) => Promise<number>,
): Promise<void> {
  let opened: ReturnType<typeof openGateway> | undefined;
  try {
    opened = openGateway(options);
    process.exitCode = await body(opened.gateway, opened.keySource);
  } catch (error) {
    const failure = describeGatewayFailure(error, {
      ...(opened ? { keySource: opened.keySource } : {}),
      ...(agentId ? { agentId } : {}),
    });
    process.stderr.write(`error: ${failure.message}\n`);
    process.exitCode = failure.exitCode;
  } finally {
    await opened?.gateway.close();
  }
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 100) {
    throw new InvalidArgumentError("must be a whole number from 1 to 100");
  }
  return n;
}

function agentName(agent: DiscoveredAgent): string {
  const name = agent.agent_card["name"];
  return typeof name === "string" ? name : "(unnamed)";
}

export function registerDiscoverCommand(program: Command): void {
  withGatewayOptions(
    program
      .command("discover")
      .description("find agents through the gateway by what they do")
      .argument("<query>", 'what you are looking for, e.g. "summarise pdf"')
      .option("--limit <n>", "at most this many agents (1–100)", positiveInt)
      .option("--json", "print the agents as JSON"),
  ).action(
    async (query: string, options: GatewayCommandOptions & { limit?: number; json?: boolean }) => {
      await runCommand(options, undefined, async (gateway) => {
        const agents = await gateway.discover(query, { limit: options.limit });
        if (options.json) {
          process.stdout.write(`${JSON.stringify(agents, null, 2)}\n`);
          return GatewayExitCode.ok;
        }
        if (agents.length === 0) {
          process.stderr.write(`no agents match "${query}"\n`);
          return GatewayExitCode.ok;
        }
        for (const agent of agents) {
          const description = agent.agent_card["description"];
          process.stdout.write(
            `${agent.agent_id}  ${agentName(agent)}  (score ${agent.match_score.toFixed(2)})\n`,
          );
          if (typeof description === "string" && description !== "") {
            process.stdout.write(`    ${description.split("\n")[0]}\n`);
          }
        }
        return GatewayExitCode.ok;
      });
    },
  );
}

export function registerSendCommand(program: Command): void {
  withGatewayOptions(
    program
      .command("send")
      .description("send one message to an agent and print its answer")
      .argument("<agent>", "the agent id (from `hybro-hub discover`)")
      .argument("<text>", "the message")
      .option("--context <id>", "continue this conversation (context id)")
      .option("--task <id>", "continue this task (answer an agent that asked for input)")
      .option("--json", "print the whole result (the A2A task) as JSON"),
  ).action(
    async (
      agentId: string,
      text: string,
      options: GatewayCommandOptions & { context?: string; task?: string; json?: boolean },
    ) => {
      await runCommand(options, agentId, async (gateway) => {
        const result = await gateway.send(agentId, text, {
          contextId: options.context,
          taskId: options.task,
        });
        if (options.json) {
          process.stdout.write(`${JSON.stringify(result.raw, null, 2)}\n`);
          const failed = ["failed", "rejected", "canceled"].includes(result.state);
          return failed ? GatewayExitCode.error : GatewayExitCode.ok;
        }
        const shown = renderTask(result.task);
        if (
          result.state === "failed" ||
          result.state === "rejected" ||
          result.state === "canceled"
        ) {
          const what: Record<string, string> = {
            failed: "the agent failed",
            rejected: "the agent rejected the task",
            canceled: "the agent's task was canceled",
          };
          process.stderr.write(
            `error: ${what[result.state]}: ${shown.trimEnd() || result.state}\n`,
          );
          return GatewayExitCode.error;
        }
        // Files by name, data as compact JSON; an empty answer prints nothing (and says so).
        if (shown === "") process.stderr.write("(the agent answered with nothing)\n");
        else process.stdout.write(shown.endsWith("\n") ? shown : `${shown}\n`);
        if (result.state === "input-required" || result.state === "auth-required") {
          process.stderr.write(
            `(the agent is waiting for your answer: hybro-hub send ${agentId} "…" --context ${result.contextId} --task ${result.taskId})\n`,
          );
        }
        return GatewayExitCode.ok;
      });
    },
  );
}

export function registerChatCommand(program: Command): void {
  withGatewayOptions(
    program
      .command("chat")
      .description("talk with an agent: one line per message, replies stream in; /quit ends")
      .argument("<agent>", "the agent id (from `hybro-hub discover`)")
      .option("--context <id>", "continue this conversation (context id)"),
  ).action(async (agentId: string, options: GatewayCommandOptions & { context?: string }) => {
    await runCommand(options, agentId, (gateway, keySource) =>
      runChat(gateway, agentId, {
        input: process.stdin,
        output: process.stdout,
        errorOutput: process.stderr,
        interactive: process.stdin.isTTY === true && process.stdout.isTTY === true,
        contextId: options.context,
        describeFailure: (error) => describeGatewayFailure(error, { agentId, keySource }),
      }),
    );
  });
}
