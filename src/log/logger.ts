import { type DestinationStream, type Logger, type LoggerOptions, pino } from "pino";

export type { Logger } from "pino";

/** Field paths that may hold a secret anywhere in a log object. */
const REDACT_PATHS = [
  "apiKey",
  "api_key",
  "key",
  "token",
  "authorization",
  "headers.authorization",
  'headers["x-api-key"]',
  "*.apiKey",
  "*.api_key",
  "*.authorization",
  '*.headers["x-api-key"]',
  "*.headers.authorization",
];

interface LoggerSettings {
  level?: string;
  /** Human-readable lines (pino-pretty) instead of JSON; for a terminal. */
  pretty?: boolean;
  /** Secrets whose literal value must never reach a line, wherever they appear. */
  secrets?: () => Iterable<string>;
  destination?: DestinationStream;
  name?: string;
}

/** Replaces every occurrence of a secret in an already-serialised line. */
function maskSecrets(line: string, secrets: Iterable<string>): string {
  let out = line;
  for (const secret of secrets) {
    if (secret.length >= 8 && out.includes(secret)) out = out.split(secret).join("[REDACTED]");
  }
  return out;
}

/**
 * The one way to make a logger: JSON by default, pretty on request, secrets redacted by path
 * (pino `redact`) and by value (any line containing a known key is masked before it is written).
 */
export function createLogger(settings: LoggerSettings = {}): Logger {
  const options: LoggerOptions = {
    level: settings.level ?? "info",
    redact: { paths: REDACT_PATHS, censor: "[REDACTED]" },
    base: settings.name ? { name: settings.name } : { pid: process.pid },
  };
  const secrets = settings.secrets;
  if (secrets) {
    options.hooks = { streamWrite: (line) => maskSecrets(line, secrets()) };
  }
  if (settings.pretty && !settings.destination) {
    options.transport = {
      target: "pino-pretty",
      options: { colorize: process.stderr.isTTY ?? false, destination: 2, ignore: "pid,hostname" },
    };
    return pino(options);
  }
  return pino(options, settings.destination ?? pino.destination({ dest: 2, sync: true }));
}

/** A logger that drops everything; for tests and library use without a logger. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
