// `hybro-hub relay`: the development relay on loopback, and `relay keys create|list|revoke`
// on its sqlite file. Prints exactly one line on stdout when ready; logs go to stderr.
import { join } from "node:path";
import { type Command, type CommanderError, InvalidArgumentError, Option } from "commander";
import { hubPaths } from "../config/paths.ts";
import { isApiKeyFormat } from "../devrelay/api-key.ts";
import { startDevRelay } from "../devrelay/index.ts";
import { KeyRing, KeyRingError, toApiKeyInfo } from "../devrelay/key-ring.ts";
import {
  API_FAMILIES,
  formatWindows,
  parseRateLimitSpec,
  parseWindows,
  type RateWindow,
} from "../devrelay/rate-limit.ts";
import {
  DEFAULT_DEV_RELAY_SETTINGS,
  DEFAULT_RATE_LIMITS,
  type DevRelaySettings,
  type DevRelaySettingsInput,
  type RateLimitChanges,
} from "../devrelay/settings.ts";
import { RelayStore } from "../devrelay/store.ts";
import { createLogger } from "../log/logger.ts";
import { ExitCode } from "../system/exit-codes.ts";
import { isWildcardHost, outsideAddress, relayExposureWarning } from "../system/listen-warning.ts";
import type { ApiKeyInfo } from "../wire/gateway.ts";

/** Force the process out if closing hangs after a signal. */
const CLOSE_DEADLINE_MS = 5000;

function defaultRelayDataDir(): string {
  return join(hubPaths().data, "relay");
}

function integer(value: string): number {
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < 0) {
    throw new InvalidArgumentError("expected a whole number ≥ 0");
  }
  return parsed;
}

function positive(value: string): number {
  const parsed = integer(value);
  if (parsed < 1) throw new InvalidArgumentError("expected a whole number ≥ 1");
  return parsed;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** `--rate-limit FAMILY[.WHO]=WINDOWS`, repeatable: merged into per-family changes. */
function collectRateLimit(value: string, previous: RateLimitChanges): RateLimitChanges {
  try {
    const { family, subject, windows } = parseRateLimitSpec(value);
    return { ...previous, [family]: { ...previous[family], [subject]: windows } };
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

function windowsArgument(value: string): RateWindow[] {
  try {
    return parseWindows(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

/** The default windows, for the help text. */
function defaultRateLimits(): string {
  return API_FAMILIES.map((family) => {
    const limits = DEFAULT_RATE_LIMITS[family];
    return `${family}=${formatWindows(limits.key)} (global ${formatWindows(limits.global)})`;
  }).join("; ");
}

type NumericFlag = [
  flag: string,
  setting: keyof DevRelaySettings,
  help: string,
  parse?: (value: string) => number,
];

/** Numeric settings exposed as flags; commander camel-cases each flag to the setting's name. */
const NUMERIC_FLAGS: NumericFlag[] = [
  ["--sse-heartbeat-ms <ms>", "sseHeartbeatMs", "heartbeat interval on hub event streams"],
  ["--offline-queue-ttl-ms <ms>", "offlineQueueTtlMs", "how long commands wait for an offline hub"],
  ["--offline-queue-max <n>", "offlineQueueMax", "commands kept per offline hub"],
  [
    "--replay-buffer-size <n>",
    "replayBufferSize",
    "delivered commands kept per hub for Last-Event-ID replay",
  ],
  ["--max-body-bytes <n>", "maxBodyBytes", "largest request body"],
  ["--gateway-timeout-ms <ms>", "gatewayTimeoutMs", "how long a gateway send waits for the agent"],
  [
    "--hub-heartbeat-interval-ms <ms>",
    "hubHeartbeatIntervalMs",
    "heartbeat POST period expected from hubs (and how often it is checked)",
    positive,
  ],
  [
    "--hub-heartbeat-miss-limit <n>",
    "hubHeartbeatMissLimit",
    "periods without a heartbeat POST after which a hub's stream is ended",
    positive,
  ],
];

interface RelayOptions extends Partial<Record<keyof DevRelaySettings, unknown>> {
  rateLimit: RateLimitChanges;
  authFailureLimit?: RateWindow[];
  host: string;
  port: number;
  data?: string;
  memory?: boolean;
  adminKey?: string;
  adminUser: string;
  logLevel: string;
}

export function registerRelayCommand(program: Command): void {
  const relay = program
    .command("relay")
    .description("run the development relay (hub API, Gateway, Discovery, API keys) on loopback")
    .option("--host <host>", "interface to listen on", DEFAULT_DEV_RELAY_SETTINGS.host)
    .option("--port <port>", "port (0 = any free port)", integer, DEFAULT_DEV_RELAY_SETTINGS.port)
    .option("--data <dir>", "folder of the relay's sqlite file (default: <data dir>/relay)")
    .option("--memory", "keep all state in memory")
    .addOption(
      new Option(
        "--admin-key <key>",
        "make sure a '*'-scoped key with this value exists (prefer the env var: argv shows in ps)",
      ).env("HYBRO_RELAY_ADMIN_KEY"),
    )
    .option("--admin-user <user>", "owner of the admin key", DEFAULT_DEV_RELAY_SETTINGS.adminUser);
  for (const [flag, setting, help, parse] of NUMERIC_FLAGS) {
    relay.option(
      flag,
      `${help} (default ${DEFAULT_DEV_RELAY_SETTINGS[setting]})`,
      parse ?? integer,
    );
  }
  relay
    .option(
      "--rate-limit <family[.who]=windows>",
      "sliding rate-limit windows, all enforced, e.g. gateway=20/10s,100/1m,5000/1d or " +
        "discovery.global=10000/1h; who: key (default; user follows it), user (all keys of a user) " +
        `or global; units ms s m h d; "none" lifts it; repeatable (defaults: ${defaultRateLimits()})`,
      collectRateLimit,
      {},
    )
    .option(
      "--auth-failure-limit <windows>",
      `failed authentications one address may make before it waits (default ${formatWindows(DEFAULT_DEV_RELAY_SETTINGS.authFailureLimits)})`,
      windowsArgument,
    )
    .addOption(
      new Option("--log-level <level>", "log level")
        .choices(["trace", "debug", "info", "warn", "error", "silent"])
        .default("info"),
    )
    .exitOverride((error: CommanderError) => {
      // Help ends with 0; a flag it cannot read is a usage error (exit 2).
      process.exit(error.exitCode === 0 ? ExitCode.ok : ExitCode.usage);
    })
    .action(async (options: RelayOptions, command: Command) => {
      if (command.getOptionValueSource("adminKey") === "cli") {
        process.stderr.write(
          "warning: --admin-key on the command line is readable by every local user (ps) and stays in your shell history; set HYBRO_RELAY_ADMIN_KEY instead\n",
        );
      }
      process.exitCode = await runRelay(options);
    });

  const keys = relay
    .command("keys")
    .description("manage the relay's API keys (in its sqlite file)");
  keys
    .command("create")
    .description("create a key and print it (the only time it is shown)")
    .requiredOption("--name <name>", "a name to recognise the key by")
    .option(
      "--scope <scope>",
      "what the key may do, at least one (repeat for more): relay:hub, gateway:read, gateway:send, discovery:read, keys:admin, <area>:*, * (everything)",
      collect,
    )
    .option("--user <user>", "owner", "local")
    .option("--expires <iso>", "expiry, ISO-8601 (e.g. 2030-01-01T00:00:00Z)")
    .option("--data <dir>", "folder of the relay's sqlite file")
    .option("--json", "print the key and its record as JSON")
    .action(
      (options: {
        name: string;
        scope?: string[];
        user: string;
        expires?: string;
        data?: string;
        json?: boolean;
      }) => {
        const scopes = options.scope ?? [];
        if (scopes.length === 0) {
          process.stderr.write(
            "error: give at least one --scope, e.g. --scope '*' (everything) or --scope relay:hub --scope 'gateway:*'\n",
          );
          process.exitCode = ExitCode.usage;
          return;
        }
        process.exitCode = withKeyRing(options.data, (ring) => {
          const { record, key } = ring.create({
            userId: options.user,
            name: options.name,
            scopes,
            expiresAt: options.expires ?? null,
          });
          if (options.json) {
            process.stdout.write(`${JSON.stringify({ ...toApiKeyInfo(record), key })}\n`);
          } else {
            process.stdout.write(`key: ${key}\nid: ${record.id}\n`);
            process.stderr.write("This key is shown only now; store it somewhere safe.\n");
          }
          return ExitCode.ok;
        });
      },
    );
  keys
    .command("list")
    .description("list keys (never their values)")
    .option("--user <user>", "only this user's keys")
    .option("--data <dir>", "folder of the relay's sqlite file")
    .option("--json", "print JSON")
    .action((options: { user?: string; data?: string; json?: boolean }) => {
      process.exitCode = withKeyRing(options.data, (ring) => {
        const infos = ring.list(options.user).map(toApiKeyInfo);
        process.stdout.write(options.json ? `${JSON.stringify(infos)}\n` : keyTable(infos));
        return ExitCode.ok;
      });
    });
  keys
    .command("revoke <id>")
    .description("revoke a key by id")
    .option("--data <dir>", "folder of the relay's sqlite file")
    .action((id: string, options: { data?: string }) => {
      process.exitCode = withKeyRing(options.data, (ring) => {
        if (!ring.revoke(id)) {
          process.stderr.write(`error: no key with id ${id}; see \`hybro-hub relay keys list\`\n`);
          return ExitCode.error;
        }
        process.stdout.write(`revoked ${id}\n`);
        return ExitCode.ok;
      });
    });
}

function withKeyRing(dataDir: string | undefined, work: (ring: KeyRing) => number): number {
  let store: RelayStore | undefined;
  try {
    store = new RelayStore(dataDir ?? defaultRelayDataDir());
    return work(new KeyRing(store, DEFAULT_DEV_RELAY_SETTINGS));
  } catch (error) {
    if (error instanceof KeyRingError) {
      process.stderr.write(`error: ${error.message}\n`);
      return ExitCode.usage;
    }
    process.stderr.write(`error: cannot use the relay database: ${(error as Error).message}\n`);
    return ExitCode.error;
  } finally {
    store?.close();
  }
}

function keyTable(infos: ApiKeyInfo[]): string {
  if (infos.length === 0) return "no keys\n";
  const now = Date.now();
  const rows = infos.map((info) => [
    info.id,
    info.user_id,
    info.name,
    info.scopes.join(","),
    `${info.prefix}…`,
    info.revoked_at
      ? "revoked"
      : info.expires_at && Date.parse(info.expires_at) <= now
        ? "expired"
        : "active",
    info.expires_at ?? "never",
    info.last_used_at ?? "never",
  ]);
  const header = ["ID", "USER", "NAME", "SCOPES", "PREFIX", "STATE", "EXPIRES", "LAST USED"];
  const widths = header.map((title, i) =>
    Math.max(title.length, ...rows.map((row) => (row[i] ?? "").length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join("\n")}\n`;
}

async function runRelay(options: RelayOptions): Promise<number> {
  if (options.data && options.memory) {
    process.stderr.write("error: give either --data DIR or --memory, not both\n");
    return ExitCode.usage;
  }
  const adminKey = options.adminKey?.trim() || null;
  if (adminKey !== null && !isApiKeyFormat(adminKey)) {
    process.stderr.write(
      "error: the admin key (--admin-key or HYBRO_RELAY_ADMIN_KEY) must be 'hybro_' followed by at least 32 letters or digits (A-Z a-z 0-9)\n",
    );
    return ExitCode.usage;
  }
  const logger = createLogger({
    level: options.logLevel,
    pretty: process.stderr.isTTY ?? false,
    name: "relay",
    secrets: () => (adminKey ? [adminKey] : []),
  });
  const settings: DevRelaySettingsInput = {
    rateLimits: options.rateLimit,
    authFailureLimits: options.authFailureLimit,
    host: options.host,
    port: options.port,
    memory: options.memory === true,
    dataDir: options.memory ? null : (options.data ?? defaultRelayDataDir()),
    adminKey,
    adminUser: options.adminUser,
  };
  for (const [, setting] of NUMERIC_FLAGS) {
    const value = options[setting];
    if (typeof value === "number") (settings as Record<string, unknown>)[setting] = value;
  }
  const exposed = relayExposureWarning(options.host);
  if (exposed) process.stderr.write(`warning: ${exposed}\n`);
  let relay: Awaited<ReturnType<typeof startDevRelay>>;
  try {
    relay = await startDevRelay({ ...settings, logger });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const message =
      code === "EADDRINUSE"
        ? `port ${options.port} on ${options.host} is in use; pick another with --port (0 = any free port)`
        : (error as Error).message;
    process.stderr.write(`error: cannot start the relay: ${message}\n`);
    return ExitCode.error;
  }
  // On every interface, print the address other machines use (it works from here too).
  const url = isWildcardHost(options.host) ? `http://${outsideAddress()}:${relay.port}` : relay.url;
  process.stdout.write(`relay listening on ${url}\n`);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once("SIGINT", () => resolve("SIGINT"));
    process.once("SIGTERM", () => resolve("SIGTERM"));
  });
  logger.info({ signal }, "stopping the relay");
  setTimeout(() => process.exit(ExitCode.error), CLOSE_DEADLINE_MS).unref();
  await relay.close();
  return ExitCode.ok;
}
