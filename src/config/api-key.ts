import { readFileSync } from "node:fs";
import { join } from "node:path";
import { readConfigFile } from "./config-file.ts";

/** A key as the relay issues it: `hybro_` then base62 characters. */
const KEY_FORMAT = /^hybro_[A-Za-z0-9]{16,}$/;

interface ApiKeySources {
  /** `--api-key-file` */
  flagFile?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** config.json path */
  configFile: string;
}

type ResolvedApiKey =
  | { ok: true; key: string; source: string }
  | { ok: false; error: string; source?: string };

/** Checks the format without ever echoing the key. */
export function checkKeyFormat(key: string, source: string): string | null {
  if (!key.startsWith("hybro_")) {
    return `the API key from ${source} does not look like a Hybro key (it must start with "hybro_"); copy it again from hybro.ai`;
  }
  if (!KEY_FORMAT.test(key)) {
    return `the API key from ${source} has unexpected characters or is too short; copy it again from hybro.ai`;
  }
  return null;
}

function fromFile(path: string, source: string): ResolvedApiKey {
  try {
    const key = readFileSync(path, "utf8").trim();
    if (!key) return { ok: false, error: `${source} is empty`, source };
    return { ok: true, key, source };
  } catch (error) {
    return { ok: false, error: `cannot read ${source}: ${(error as Error).message}`, source };
  }
}

/**
 * Where the key comes from, first match wins: `HYBRO_API_KEY`, `--api-key-file`, systemd's
 * `$CREDENTIALS_DIRECTORY/hybro-api-key`, then the saved config file. Never the command line.
 */
export function resolveApiKey(sources: ApiKeySources): ResolvedApiKey {
  const env = sources.env ?? process.env;
  let found: ResolvedApiKey | null = null;
  if (env.HYBRO_API_KEY)
    found = { ok: true, key: env.HYBRO_API_KEY.trim(), source: "HYBRO_API_KEY" };
  else if (sources.flagFile)
    found = fromFile(sources.flagFile, `--api-key-file ${sources.flagFile}`);
  else if (env.CREDENTIALS_DIRECTORY) {
    const path = join(env.CREDENTIALS_DIRECTORY, "hybro-api-key");
    const fromCredentials = fromFile(path, "the systemd credential hybro-api-key");
    if (fromCredentials.ok) found = fromCredentials;
  }
  if (!found) {
    const config = readConfigFile(sources.configFile);
    if (!config.ok) return { ok: false, error: config.error };
    if (config.config.apiKey) {
      found = {
        ok: true,
        key: config.config.apiKey.trim(),
        source: `the config file ${sources.configFile}`,
      };
    }
  }
  if (!found) {
    return {
      ok: false,
      error:
        "no API key: save it once with `hybro-hub config set-key` (typed without echo, or piped), or set HYBRO_API_KEY, or use --api-key-file FILE",
    };
  }
  if (!found.ok) return found;
  const problem = checkKeyFormat(found.key, found.source);
  return problem ? { ok: false, error: problem, source: found.source } : found;
}
