import { readFileSync, statSync } from "node:fs";
import * as v from "valibot";
import { writeFileAtomically } from "../system/private-files.ts";
import {
  anyObject,
  defaultMessage,
  issuePath,
  strictObject,
  urlString,
} from "../validation/schema-pieces.ts";

/** config.json in the config directory: what `config set-key` saves. Mode 0600. */
const ConfigFileSchema = strictObject({
  apiKey: v.optional(v.string()),
  gatewayUrl: v.optional(urlString("Invalid URL")),
  /** The hub-wide privacy policy; checked where it is used (src/privacy/hub-privacy.ts). */
  privacy: v.optional(anyObject()),
});
export type ConfigFile = v.InferOutput<typeof ConfigFileSchema>;

type ConfigFileRead =
  | { ok: true; config: ConfigFile; exists: boolean; warnings: string[] }
  | { ok: false; error: string };

export function readConfigFile(file: string): ConfigFileRead {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      return { ok: true, config: {}, exists: false, warnings: [] };
    }
    return { ok: false, error: `cannot read ${file}: ${(error as Error).message}` };
  }
  const warnings: string[] = [];
  if (process.platform !== "win32") {
    const mode = statSync(file).mode & 0o777;
    if (mode & 0o077) {
      warnings.push(
        `${file} is readable by other users (mode ${mode.toString(8)}); it holds your API key: run chmod 600 ${file}`,
      );
    }
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { ok: false, error: `${file} is not valid JSON: ${(error as Error).message}` };
  }
  const parsed = v.safeParse(ConfigFileSchema, json, { message: defaultMessage });
  if (!parsed.success) {
    const issue = parsed.issues[0];
    const path = issuePath(issue);
    const where = path.length ? path.join(".") : "top level";
    return { ok: false, error: `${file}: ${where}: ${issue.message}` };
  }
  return { ok: true, config: parsed.output, exists: true, warnings };
}

/** Writes the file atomically with mode 0600 (never briefly readable by others). */
function writeConfigFile(file: string, config: ConfigFile): void {
  writeFileAtomically(file, `${JSON.stringify(config, null, 2)}\n`);
}

/** Changes some settings and keeps the others (an undefined value removes that setting). */
export function updateConfigFile(file: string, change: Partial<ConfigFile>): void {
  const current = readConfigFile(file);
  const base = current.ok ? current.config : {};
  writeConfigFile(file, { ...base, ...change });
}

export function saveApiKey(file: string, apiKey: string): void {
  updateConfigFile(file, { apiKey });
}
