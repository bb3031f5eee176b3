// `${NAME}` / `${NAME:-default}` in agents.json string values, applied after JSON parsing (never
// to the raw text, so quoting and structure cannot be broken by a variable's value). `$${` is a
// literal `${`. `:-` follows the shell: the default is used when NAME is unset or empty.

import { homedir } from "node:os";

export type EnvSource = Readonly<Record<string, string | undefined>>;

export interface ExpansionProblem {
  /** JSON path of the string that holds the reference. */
  path: Array<string | number>;
  message: string;
  /** true: the file is invalid; false: a warning (an unset variable without default). */
  fatal: boolean;
}

const REFERENCE = /\$\$\{|\$\{([^}]*)\}|\$\{/g;
const VARIABLE = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s;

/** Expands one string; problems are reported through `problem` (an unset variable expands to ""). */
export function expandString(
  text: string,
  env: EnvSource,
  problem: (message: string, fatal: boolean) => void,
): string {
  if (!text.includes("${")) return text;
  return text.replace(REFERENCE, (match: string, inner: string | undefined) => {
    if (match === "$${") return "${";
    if (inner === undefined) {
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the message shows the syntax
      problem('has "${" without a closing "}" (write "$${" for a literal "${")', true);
      return match;
    }
    const parsed = VARIABLE.exec(inner);
    if (!parsed) {
      problem(
        `has "\${${inner}}", which is not a variable reference (use \${NAME} or \${NAME:-default}; "$\${" for a literal)`,
        true,
      );
      return match;
    }
    const name = parsed[1] as string;
    const fallback = parsed[2];
    const value = env[name];
    if (value !== undefined && value !== "") return value;
    if (fallback !== undefined) return fallback;
    problem(`uses \${${name}}, which is not set; using an empty string`, false);
    return "";
  });
}

/**
 * Expands every string value in a parsed JSON tree (object keys are left alone). `skip` leaves
 * a subtree untouched (e.g. an inline agent card, which is data served verbatim).
 */
export function expandTree(
  value: unknown,
  env: EnvSource,
  problems: ExpansionProblem[],
  skip: (path: ReadonlyArray<string | number>) => boolean = () => false,
  path: Array<string | number> = [],
): unknown {
  if (skip(path)) return value;
  if (typeof value === "string") {
    return expandString(value, env, (message, fatal) =>
      problems.push({ path: [...path], message, fatal }),
    );
  }
  if (Array.isArray(value)) {
    return value.map((item, i) => expandTree(item, env, problems, skip, [...path, i]));
  }
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      out[key] = expandTree(item, env, problems, skip, [...path, key]);
    }
    return out;
  }
  return value;
}

/** `~` or `~/…` → the user's home directory; other strings unchanged (no `~user` form). */
export function expandHome(path: string, home: string = homedir()): string {
  if (path === "~") return home;
  if (path.startsWith("~/")) return home.replace(/\/+$/, "") + path.slice(1);
  return path;
}
