// `hybro-hub config set-key`: replace the saved key (never from argv: stdin, a hidden prompt or a
// file), and have a running hub switch to it without a restart. `config set gateway-url URL`
// saves the relay `start` uses; `config path` shows the folders and that relay.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import type { Command } from "commander";
import { checkKeyFormat } from "../config/api-key.ts";
import { readConfigFile, saveApiKey, updateConfigFile } from "../config/config-file.ts";
import { configFilePath, hubPaths } from "../config/paths.ts";
import { controlSocketPath, serviceKeyFilePath } from "../config/runtime-files.ts";
import { askDaemon, DaemonNotRunningError } from "../control/client.ts";
import { keyFingerprint } from "../control/protocol.ts";
import { ExitCode } from "../system/exit-codes.ts";
import { checkGatewayUrl, chooseGatewayUrl, gatewayUrlOrigin } from "./gateway-url.ts";
import { promptHidden, readAllStdin } from "./hidden-input.ts";

export function registerConfigCommand(program: Command): void {
  const config = program.command("config").description("the hub's saved settings");
  config
    .command("set-key")
    .description(
      "save a new API key (typed without echo, piped on stdin, or --from-file) and hand it to the running hub",
    )
    .option("--from-file <file>", "read the key from this file")
    .action(async (options: { fromFile?: string }) => {
      process.exitCode = await setKey(options);
    });
  config
    .command("path")
    .description("print where the hub keeps its files")
    .action(() => {
      const paths = hubPaths();
      const relay = chooseGatewayUrl({ configFile: configFilePath(paths) });
      process.stdout.write(
        `config   ${configFilePath(paths)}\ndata     ${paths.data}\nlogs     ${paths.log}\nruntime  ${paths.runtime}\n` +
          `relay    ${relay.url} (${gatewayUrlOrigin(relay.source)}${relay.source === "the default" ? "; change it with `hybro-hub config set gateway-url URL`" : ""})\n`,
      );
    });
  config
    .command("set <setting> <value>")
    .description(`save a setting for the next start: ${SETTINGS.join(", ")} (the key: set-key)`)
    .action((setting: string, value: string) => {
      process.exitCode = setSetting(setting, value);
    });
  config
    .command("unset <setting>")
    .description(`forget a saved setting: ${SETTINGS.join(", ")}`)
    .action((setting: string) => {
      process.exitCode = setSetting(setting, undefined);
    });
}

/** What `config set` accepts; the key is left out on purpose (never on a command line). */
const SETTINGS = ["gateway-url"] as const;

function setSetting(setting: string, value: string | undefined): number {
  if (setting === "api-key" || setting === "key") {
    process.stderr.write(
      "error: the key is never taken as an argument; use `hybro-hub config set-key` (it prompts, or reads stdin)\n",
    );
    return ExitCode.usage;
  }
  if (setting !== "gateway-url") {
    process.stderr.write(`error: unknown setting "${setting}"; settings: ${SETTINGS.join(", ")}\n`);
    return ExitCode.usage;
  }
  let url: string | undefined;
  if (value !== undefined) {
    const checked = checkGatewayUrl(value);
    if (!checked.ok) {
      process.stderr.write(`error: ${checked.error}\n`);
      return ExitCode.usage;
    }
    url = checked.url;
  }
  const configFile = configFilePath(hubPaths());
  // A config file that cannot be read is not replaced: it may hold the key.
  const current = readConfigFile(configFile);
  if (!current.ok) {
    process.stderr.write(`error: ${current.error}; fix or delete it first\n`);
    return ExitCode.error;
  }
  updateConfigFile(configFile, { gatewayUrl: url });
  process.stdout.write(
    url
      ? `saved gateway-url ${url} to ${configFile}; \`hybro-hub start\` uses it (a running hub keeps its relay until it restarts)\n`
      : `removed gateway-url from ${configFile}; \`hybro-hub start\` uses the default relay again\n`,
  );
  return ExitCode.ok;
}

async function setKey(options: { fromFile?: string }): Promise<number> {
  let key: string;
  let source: string;
  try {
    if (options.fromFile) {
      key = readFileSync(options.fromFile, "utf8");
      source = options.fromFile;
    } else if (process.stdin.isTTY) {
      key = await promptHidden("Hybro API key (input hidden): ");
      source = "the prompt";
    } else {
      key = await readAllStdin();
      source = "stdin";
    }
  } catch (error) {
    process.stderr.write(`error: cannot read the key: ${(error as Error).message}\n`);
    return ExitCode.usage;
  }
  key = key.trim();
  const problem = key ? checkKeyFormat(key, source) : `no key on ${source}`;
  if (problem) {
    process.stderr.write(`error: ${problem}\n`);
    return ExitCode.usage;
  }
  const paths = hubPaths();
  const configFile = configFilePath(paths);
  saveApiKey(configFile, key);
  const keyFile = serviceKeyFilePath(paths);
  if (existsSync(keyFile)) writeFileSync(keyFile, `${key}\n`, { mode: 0o600 });
  process.stdout.write(`saved the key to ${configFile} (mode 0600)\n`);
  try {
    // The hub may already have switched on its own (it watches the config file).
    const reloaded = await askDaemon(controlSocketPath(paths), "reload-key");
    if (reloaded.fingerprint === keyFingerprint(key)) {
      process.stdout.write("the running hub now uses the new key\n");
    } else {
      process.stderr.write(
        `warning: the running hub reads its key from ${reloaded.source}; put the new key there too\n`,
      );
      return ExitCode.error;
    }
  } catch (error) {
    if (error instanceof DaemonNotRunningError) {
      process.stdout.write("hybro-hub is not running; it uses the new key when it starts\n");
    } else {
      process.stderr.write(
        `warning: could not tell the running hub: ${(error as Error).message}\n`,
      );
      return ExitCode.error;
    }
  }
  return ExitCode.ok;
}
