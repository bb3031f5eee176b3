import { dirname, resolve } from "node:path";
// agents.json: the local agents the hub serves (../shared/spec/local-agents.md §1). Parsing is
// pure and total: any text gives either a config or one error line that names the file, the
// line:column or the entry, and what is wrong. Unknown keys are errors, not silently ignored.

import { readFile } from "node:fs/promises";
import * as v from "valibot";
import type { A2ADialect, TransportKind } from "../a2a/transport.ts";
import { keySuggestion } from "../config/did-you-mean.ts";
import { checkAgentPolicies } from "../privacy/agent-policies.ts";
import type { PolicySpec } from "../privacy/policy-spec.ts";
import {
  anyObject,
  defaultMessage,
  isKeyIssue,
  issuePath,
  notAboveSafeInteger,
  notBelowSafeInteger,
  record,
  strictObject,
  unknownKeyObject,
  urlString,
  wholeNumber,
} from "../validation/schema-pieces.ts";
import { localAgentIdForCommand, localAgentIdForUrl } from "../wire/agent-id.ts";
import { valueAt } from "../wire/value-at.ts";
import { type EnvSource, type ExpansionProblem, expandHome, expandTree } from "./env-expand.ts";
import { describeJsonError } from "./json-position.ts";

export const DEFAULT_MAX_CONCURRENCY = 8;

interface AgentEntryBase {
  name: string;
  /** The id the relay knows the agent by: the entry's `id`, else derived (relay-wire.md §1). */
  localAgentId: string;
  /** The entry's own `id`, when given. */
  id?: string;
  description?: string;
  /** Inline card, used when the agent serves none. */
  card?: Record<string, unknown>;
  cardUrl?: string;
  headers: Record<string, string>;
  /** Overrides the card's `capabilities.streaming`. */
  streaming?: boolean;
  maxConcurrency: number;
  /** Turns that may wait for a free slot; beyond it turns are refused (`AgentBusy`). Default: the hub's. */
  maxQueued?: number;
  timeoutMs?: number;
  enabled: boolean;
  /** Dialect spoken to stdio/ws agents (default 0.3); HTTP agents' dialect comes from the card. */
  a2a?: A2ADialect;
}
export interface HttpAgentEntry extends AgentEntryBase {
  kind: "http";
  url: string;
}
interface WsAgentEntry extends AgentEntryBase {
  kind: "ws";
  url: string;
}
export interface StdioAgentEntry extends AgentEntryBase {
  kind: "stdio";
  command: string;
  args: string[];
  /** With `~` expanded. */
  cwd?: string;
  /** Added to the child's minimal environment; `~` expanded at the start of values. */
  env: Record<string, string>;
}
export type AgentEntry = HttpAgentEntry | WsAgentEntry | StdioAgentEntry;
export type AgentEntryOfKind<K extends TransportKind> = Extract<AgentEntry, { kind: K }>;

/** An inclusive port range; a single port is `{ from: p, to: p }`. */
export interface PortRange {
  from: number;
  to: number;
}

export interface AgentsConfig {
  /** Every entry in file order, disabled ones included (their ports are never auto-discovered). */
  agents: AgentEntry[];
  autoDiscover: boolean;
  /** Ports discovery may probe; null = every listening loopback port. */
  autoDiscoverPorts: PortRange[] | null;
  autoDiscoverExcludePorts: number[];
  /** The file's `"privacy"`: a privacy policy per agent name (src/privacy/agent-policies.ts). */
  privacy?: Record<string, PolicySpec>;
}

export const EMPTY_AGENTS_CONFIG: AgentsConfig = {
  agents: [],
  autoDiscover: false,
  autoDiscoverPorts: null,
  autoDiscoverExcludePorts: [],
};

type AgentsFileParse =
  | { ok: true; config: AgentsConfig; warnings: string[] }
  | { ok: false; error: string };

export type AgentsFileLoad =
  | { ok: true; config: AgentsConfig; warnings: string[]; missing: boolean }
  | { ok: false; error: string };

export interface ParseOptions {
  /** Variables for `${NAME}` (default: process.env). */
  env?: EnvSource;
  /** For `~` expansion (default: os.homedir()). */
  home?: string;
}

// ---------------------------------------------------------------------------------------------
// Schema: shapes and ranges. Cross-field rules (url xor command, schemes) are checked by hand.

const port = v.pipe(
  wholeNumber,
  v.minValue(1, "must be a port number (1–65535)"),
  v.maxValue(65535),
);
/** A port inside a list that also takes "from-to": a fraction is neither, not a bad port. */
const portItem = v.pipe(
  v.custom<number>(Number.isInteger),
  notAboveSafeInteger,
  notBelowSafeInteger,
  v.minValue(1, "must be a port number (1–65535)"),
  v.maxValue(65535),
);
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const nonEmpty = v.pipe(v.string(), v.minLength(1, "must not be empty"));
const trimmedNonEmpty = v.pipe(v.string(), v.trim(), v.minLength(1, "must not be empty"));

const entryEntries = {
  name: trimmedNonEmpty,
  id: v.optional(
    v.pipe(
      v.string(),
      v.regex(
        /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/,
        "must be 1–64 letters, digits, '.', '_', ':' or '-'",
      ),
    ),
  ),
  description: v.optional(v.string()),
  url: v.optional(v.string()),
  command: v.optional(trimmedNonEmpty),
  args: v.optional(v.array(v.string())),
  cwd: v.optional(nonEmpty),
  env: v.optional(
    record(
      v.pipe(v.string(), v.regex(ENV_NAME, "variable names are letters, digits and _")),
      v.string(),
    ),
  ),
  card: v.optional(anyObject()),
  cardUrl: v.optional(urlString("must be an http(s):// URL", true)),
  headers: v.optional(
    record(v.pipe(v.string(), v.regex(HEADER_NAME, "is not a valid HTTP header name")), v.string()),
  ),
  streaming: v.optional(v.boolean()),
  maxConcurrency: v.optional(
    v.pipe(wholeNumber, v.minValue(1, "must be at least 1"), v.maxValue(10_000)),
  ),
  maxQueued: v.optional(
    v.pipe(wholeNumber, v.minValue(0, "must be 0 or more"), v.maxValue(100_000)),
  ),
  timeoutMs: v.optional(
    v.pipe(wholeNumber, v.minValue(1, "must be a positive number of milliseconds")),
  ),
  enabled: v.optional(v.boolean()),
  a2a: v.optional(v.picklist(["0.3", "1.0"], 'must be "0.3" or "1.0"')),
};
const entrySchema = strictObject(entryEntries);

const fileEntries = {
  $schema: v.optional(v.string()),
  agents: v.optional(v.array(entrySchema)),
  autoDiscover: v.optional(v.boolean()),
  autoDiscoverPorts: v.optional(
    v.pipe(
      v.array(
        v.union(
          [portItem, v.pipe(v.string(), v.regex(/^\d+-\d+$/))],
          'each item must be a port number or a "from-to" range',
        ),
      ),
      v.minLength(1, "must not be empty (leave it out to probe every listening port)"),
    ),
  ),
  autoDiscoverExcludePorts: v.optional(v.array(port)),
  privacy: v.optional(anyObject()),
};
const fileSchema = strictObject(fileEntries);

type RawEntry = v.InferOutput<typeof entrySchema>;
type RawFile = v.InferOutput<typeof fileSchema>;

const ENTRY_KEYS = Object.keys(entryEntries);
const FILE_KEYS = Object.keys(fileEntries);

interface Problem {
  path: Array<string | number>;
  message: string;
}

// ---------------------------------------------------------------------------------------------

/** Parses the text of an agents file. Pure: no I/O besides reading `options.env`. */
export function parseAgentsFile(
  text: string,
  fileName: string,
  options: ParseOptions = {},
): AgentsFileParse {
  const source = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (source.trim() === "") {
    return { ok: false, error: `${fileName}: the file is empty (write {"agents": []} for none)` };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(source);
  } catch {
    const where = describeJsonError(source);
    return {
      ok: false,
      error: where
        ? `${fileName}:${where.line}:${where.column}: invalid JSON: ${where.message}`
        : `${fileName}: invalid JSON`,
    };
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    return {
      ok: false,
      error: `${fileName}: the top level must be an object like {"agents": [ … ]}`,
    };
  }

  const expansion: ExpansionProblem[] = [];
  const expanded = expandTree(
    parsed,
    options.env ?? process.env,
    expansion,
    (path) => path.length === 3 && path[0] === "agents" && path[2] === "card",
  ) as Record<string, unknown>;

  const problems: Problem[] = [];
  const warnings: string[] = [];
  for (const p of expansion) {
    if (p.fatal) problems.push({ path: p.path, message: p.message });
    else warnings.push(`${fileName}: ${describePath(p.path, expanded)} ${p.message}`);
  }

  const result = v.safeParse(fileSchema, expanded, { message: defaultMessage });
  if (!result.success) problems.push(...schemaProblems(result.issues, expanded));
  const rawAgents = Array.isArray(expanded["agents"]) ? expanded["agents"] : [];
  rawAgents.forEach((entry, index) => {
    problems.push(...transportProblems(entry, index, warnings));
  });

  if (problems.length === 0 && result.success) {
    const built = buildConfig(result.output, options.home, dirname(resolve(fileName)), problems);
    if (result.output.privacy !== undefined) {
      const names = built.agents.map((agent) => agent.name);
      const privacy = checkAgentPolicies(result.output.privacy, names);
      problems.push(...privacy.problems);
      built.privacy = privacy.policies;
    }
    if (problems.length === 0) {
      return { ok: true, config: built, warnings };
    }
  }
  return { ok: false, error: `${fileName}: ${formatProblems(problems, expanded)}` };
}

/** Reads and parses an agents file; a missing file is an empty roster, not an error. */
export async function loadAgentsFile(
  path: string,
  options?: ParseOptions,
): Promise<AgentsFileLoad> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      return { ok: true, config: EMPTY_AGENTS_CONFIG, warnings: [], missing: true };
    }
    return { ok: false, error: `${path}: cannot read the agents file (${code ?? String(error)})` };
  }
  const parsed = parseAgentsFile(text, path, options);
  return parsed.ok ? { ...parsed, missing: false } : parsed;
}

/** The ports an entry's URL points at (for keeping discovery away from configured agents). */
export function entryPort(entry: AgentEntry): number | null {
  if (entry.kind === "stdio") return null;
  try {
    const url = new URL(entry.url);
    if (url.port) return Number(url.port);
    return url.protocol === "https:" || url.protocol === "wss:" ? 443 : 80;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------

function transportProblems(raw: unknown, index: number, warnings: string[]): Problem[] {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) return [];
  const entry = raw as Record<string, unknown>;
  const at = (key?: string): Array<string | number> =>
    key ? ["agents", index, key] : ["agents", index];
  const out: Problem[] = [];
  const hasUrl = entry["url"] !== undefined;
  const hasCommand = entry["command"] !== undefined;
  if (hasUrl && hasCommand) {
    out.push({
      path: at(),
      message:
        'has both "url" and "command"; give "url" for an HTTP/WebSocket agent or "command" for a stdio agent',
    });
    return out;
  }
  if (!hasUrl && !hasCommand) {
    out.push({
      path: at(),
      message: 'needs "url" (http(s):// or ws(s)://) or "command" (a program spoken to over stdio)',
    });
    return out;
  }
  if (hasUrl && typeof entry["url"] === "string") {
    const kind = kindOfUrl(entry["url"]);
    if (kind === "invalid") {
      out.push({ path: at("url"), message: `is not a valid URL ("${entry["url"]}")` });
    } else if (kind === "unsupported") {
      out.push({
        path: at("url"),
        message: `uses an unknown transport "${schemeOf(entry["url"])}" (use http(s):// for an A2A HTTP agent, ws(s):// for a WebSocket agent, or "command" for a stdio agent)`,
      });
    }
    for (const key of ["args", "cwd", "env"]) {
      if (entry[key] !== undefined) {
        out.push({ path: at(key), message: 'is only for stdio agents (given with "command")' });
      }
    }
    if (kind === "http" && entry["a2a"] !== undefined) {
      warnings.push(
        `agents[${index}]${nameSuffix(entry)}: "a2a" is ignored for HTTP agents (their dialect comes from the card)`,
      );
    }
  }
  if (hasCommand) {
    for (const key of ["headers", "cardUrl"]) {
      if (entry[key] !== undefined) {
        out.push({
          path: at(key),
          message: 'is only for HTTP and WebSocket agents (given with "url")',
        });
      }
    }
  }
  return out;
}

function schemeOf(url: string): string {
  return /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase() ?? url;
}

function kindOfUrl(url: string): "http" | "ws" | "invalid" | "unsupported" {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "invalid";
  }
  if (parsed.protocol === "http:" || parsed.protocol === "https:") return "http";
  if (parsed.protocol === "ws:" || parsed.protocol === "wss:") return "ws";
  return "unsupported";
}

function buildConfig(
  data: RawFile,
  home: string | undefined,
  baseDir: string,
  problems: Problem[],
): AgentsConfig {
  const agents = (data.agents ?? []).map((raw, index) => buildEntry(raw, index, home, baseDir));
  const names = new Map<string, number>();
  const ids = new Map<string, number>();
  agents.forEach((entry, index) => {
    const sameName = names.get(entry.name);
    if (sameName !== undefined) {
      problems.push({
        path: ["agents", index, "name"],
        message: `repeats the name "${entry.name}" of agents[${sameName}]; names must be unique`,
      });
    } else names.set(entry.name, index);
    const sameId = ids.get(entry.localAgentId);
    if (sameId !== undefined) {
      const why = entry.id
        ? `repeats the id "${entry.localAgentId}" of agents[${sameId}]`
        : `has the same local id ${entry.localAgentId} as agents[${sameId}] (same URL or name); give one of them its own "id"`;
      problems.push({ path: ["agents", index, ...(entry.id ? ["id"] : [])], message: why });
    } else ids.set(entry.localAgentId, index);
  });

  let ranges: PortRange[] | null = null;
  const ports = data.autoDiscoverPorts;
  if (ports) {
    if (ports.length === 2 && typeof ports[0] === "number" && typeof ports[1] === "number") {
      ranges = [{ from: ports[0], to: ports[1] }];
    } else {
      ranges = ports.map((item) => {
        if (typeof item === "number") return { from: item, to: item };
        const [from, to] = item.split("-").map(Number) as [number, number];
        return { from, to };
      });
    }
    ranges.forEach((range, i) => {
      if (range.from < 1 || range.to > 65535 || range.from > range.to) {
        problems.push({
          path: ["autoDiscoverPorts", ...(ports.length === 2 ? [] : [i])],
          message: `has an invalid range ${range.from}-${range.to} (from ≤ to, within 1–65535)`,
        });
      }
    });
  }
  return {
    agents,
    autoDiscover: data.autoDiscover ?? false,
    autoDiscoverPorts: ranges,
    autoDiscoverExcludePorts: data.autoDiscoverExcludePorts ?? [],
  };
}

function buildEntry(
  raw: RawEntry,
  _index: number,
  home: string | undefined,
  baseDir: string,
): AgentEntry {
  const base: Omit<AgentEntryBase, "localAgentId"> = {
    name: raw.name,
    headers: raw.headers ?? {},
    maxConcurrency: raw.maxConcurrency ?? DEFAULT_MAX_CONCURRENCY,
    enabled: raw.enabled ?? true,
  };
  if (raw.id !== undefined) base.id = raw.id;
  if (raw.description !== undefined) base.description = raw.description;
  if (raw.card !== undefined) base.card = raw.card;
  if (raw.cardUrl !== undefined) base.cardUrl = raw.cardUrl;
  if (raw.streaming !== undefined) base.streaming = raw.streaming;
  if (raw.timeoutMs !== undefined) base.timeoutMs = raw.timeoutMs;
  if (raw.maxQueued !== undefined) base.maxQueued = raw.maxQueued;
  if (raw.a2a !== undefined) base.a2a = raw.a2a;
  if (raw.command !== undefined) {
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(raw.env ?? {})) env[key] = expandHome(value, home);
    const entry: StdioAgentEntry = {
      kind: "stdio",
      ...base,
      localAgentId: raw.id ?? localAgentIdForCommand(raw.name),
      command: expandHome(raw.command, home),
      args: raw.args ?? [],
      env,
    };
    // Relative to the agents file, not to wherever the hub was started (a service runs in /).
    entry.cwd = resolve(baseDir, expandHome(raw.cwd ?? ".", home));
    return entry;
  }
  const url = (raw.url as string).trim();
  const kind = kindOfUrl(url) === "ws" ? "ws" : "http";
  return { kind, ...base, localAgentId: raw.id ?? localAgentIdForUrl(url), url };
}

// ---------------------------------------------------------------------------------------------
// Messages

function schemaProblems(issues: ReadonlyArray<v.BaseIssue<unknown>>, root: unknown): Problem[] {
  const problems = issues.flatMap((issue) => issueProblems(issue, root));
  // A key the key schema refuses is the whole problem with that entry, not its value too.
  const badKeys = new Set(issues.filter(isKeyIssue).map((issue) => issuePath(issue).join("\0")));
  return problems.filter((p) => p.message === INVALID_KEY || !badKeys.has(p.path.join("\0")));
}

const INVALID_KEY = "has an invalid key";

function issueProblems(issue: v.BaseIssue<unknown>, root: unknown): Problem[] {
  const path = issuePath(issue);
  const object = unknownKeyObject(issue);
  if (object) {
    const known = path.length === 0 ? FILE_KEYS : ENTRY_KEYS;
    return Object.keys(object)
      .filter((key) => !known.includes(key))
      .map((key) => ({
        path,
        message: `has an unknown key "${key}"${keySuggestion(key, known)}`,
      }));
  }
  if (isKeyIssue(issue)) return [{ path, message: INVALID_KEY }];
  const value = valueAt(root, path);
  if (issue.type === "integer") {
    return [{ path, message: `must be a whole number (got ${typeName(value)})` }];
  }
  if (issue.kind === "schema" && issue.type !== "picklist" && issue.type !== "union") {
    if (value === undefined) return [{ path, message: "is required" }];
    const expected = SCHEMA_TYPES[issue.type] ?? "an object";
    return [{ path, message: `must be ${expected} (got ${typeName(value)})` }];
  }
  if (issue.type === "max_value") {
    return [{ path, message: `must be at most ${String(issue.requirement)}` }];
  }
  return [{ path, message: issue.message }];
}

/** Schema types in the words of the problems (objects and records: "an object"). */
const SCHEMA_TYPES: Record<string, string> = {
  string: "a string",
  number: "a number",
  boolean: "a boolean",
  array: "an array",
};

function formatProblems(problems: Problem[], root: unknown): string {
  const ordered = [...problems].sort((a, b) => pathOrder(a.path) - pathOrder(b.path));
  const shown = ordered
    .slice(0, 5)
    .map((p) => `${describePath(p.path, root)} ${p.message}`)
    .join("; ");
  const more = ordered.length > 5 ? ` (and ${ordered.length - 5} more problems)` : "";
  return shown + more;
}

function pathOrder(path: Array<string | number>): number {
  return path[0] === "agents" && typeof path[1] === "number" ? path[1] : -1;
}

/** `agents[2] ("Notes CLI").headers.Authorization`, `autoDiscoverPorts[1]`, `the file`. */
function describePath(path: ReadonlyArray<string | number>, root: unknown): string {
  if (path.length === 0) return "the file";
  let out = "";
  let node: unknown = root;
  path.forEach((part, i) => {
    if (typeof part === "number") out += `[${part}]`;
    else out += out === "" ? part : /^[A-Za-z_$][\w$]*$/.test(part) ? `.${part}` : `["${part}"]`;
    node =
      node !== null && typeof node === "object"
        ? (node as Record<string, unknown>)[part]
        : undefined;
    if (i === 1 && path[0] === "agents") out += nameSuffix(node);
  });
  return out;
}

function nameSuffix(entry: unknown): string {
  if (entry === null || typeof entry !== "object") return "";
  const name = (entry as Record<string, unknown>)["name"];
  return typeof name === "string" && name.trim() !== "" ? ` ("${name}")` : "";
}

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "an object";
  if (typeof value === "string")
    return `the string "${value.length > 40 ? `${value.slice(0, 40)}…` : value}"`;
  return `${typeof value} ${String(value)}`;
}
