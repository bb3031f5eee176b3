// The environment and working directory a stdio agent starts with. Pure: the parent
// environment and home directory are parameters, so tests need not touch process.env.

import { homedir } from "node:os";
import { join } from "node:path";

/**
 * Variables a child inherits from the hub: enough to find programs, locate home and temp,
 * and format text. Everything else (the hub's key, cloud credentials, tokens) stays behind;
 * an agent that needs a variable gets it through its entry's `env`.
 */
const CHILD_ENV_ALLOWLIST: readonly string[] = [
  "PATH",
  "HOME",
  "USER",
  "LOGNAME",
  "SHELL",
  "LANG",
  "LANGUAGE",
  "TZ",
  "TMPDIR",
  "TERM",
  // Windows basics: without these many programs (node included) fail to start.
  "SYSTEMROOT",
  "SYSTEMDRIVE",
  "WINDIR",
  "COMSPEC",
  "PATHEXT",
  "TEMP",
  "TMP",
  "USERPROFILE",
  "APPDATA",
  "LOCALAPPDATA",
  "HOMEDRIVE",
  "HOMEPATH",
  "PROGRAMDATA",
  "PROGRAMFILES",
];

/** Names that look like credentials; never inherited even if someone adds them to the allowlist. */
const SECRET_NAME_PATTERN = /KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL/i;

/** Names of the hub's own secrets; never passed on, not even through an entry's `env`. */
const HUB_SECRET_NAMES: readonly string[] = ["HYBRO_API_KEY"];

interface ChildEnvResult {
  env: Record<string, string>;
  /** Entry variables that were refused because they would hand the hub's key to the agent. */
  refused: string[];
}

/**
 * Builds the child's environment: the allowlisted part of `parentEnv` (plus `LC_*`), then the
 * entry's `env` on top (a leading `~/` in a value is expanded, as a shell would). The hub's
 * key never passes: neither by name nor as the value of some other entry variable
 * (e.g. `"X": "${HYBRO_API_KEY}"`).
 */
export function childEnv(
  entryEnv: Readonly<Record<string, string>> | undefined,
  parentEnv: NodeJS.ProcessEnv = process.env,
  home: string = homedir(),
): ChildEnvResult {
  const allowed = new Set(CHILD_ENV_ALLOWLIST);
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(parentEnv)) {
    if (value === undefined) continue;
    const upper = name.toUpperCase(); // Windows names are case-insensitive
    const inherit = allowed.has(upper) || upper.startsWith("LC_");
    if (inherit && !SECRET_NAME_PATTERN.test(name)) env[name] = value;
  }
  const hubSecretValues = HUB_SECRET_NAMES.map((n) => parentEnv[n]).filter(
    (v): v is string => typeof v === "string" && v.length > 0,
  );
  const refused: string[] = [];
  for (const [name, value] of Object.entries(entryEnv ?? {})) {
    if (HUB_SECRET_NAMES.includes(name.toUpperCase()) || hubSecretValues.includes(value)) {
      refused.push(name);
      continue;
    }
    env[name] = expandHome(value, home);
  }
  return { env, refused };
}

/** `~` and `~/x` become the home directory; `~user` and anything else are left as given. */
export function expandHome(path: string, home: string = homedir()): string {
  if (path === "~") return home;
  if (path.startsWith("~/") || path.startsWith("~\\")) return join(home, path.slice(2));
  return path;
}
