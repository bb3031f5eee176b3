// The README's commands, for tests that run them as written.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "./cli-runner.ts";

/** The README's text under `heading` (e.g. "## Quick start"), up to the next heading of its level. */
export function readmeSection(heading: string): string {
  const readme = readFileSync(join(REPO_ROOT, "README.md"), "utf8");
  const start = readme.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`README.md has no heading "${heading}"`);
  const level = /^#+/.exec(heading)?.[0].length ?? 2;
  const next = new RegExp(`\\n#{1,${level}} `, "g");
  next.lastIndex = start + 1;
  const end = next.exec(readme)?.index;
  return readme.slice(start, end);
}

/** The code blocks of that section, in order (their text). */
export function readmeBlocks(heading: string): string[] {
  return [...readmeSection(heading).matchAll(/```\w*\n([\s\S]*?)```/g)].map((m) => m[1] ?? "");
}

/** The command lines of the section's first code block (comments dropped). */
export function readmeCommands(heading: string): string[] {
  return (readmeBlocks(heading)[0] ?? "")
    .split("\n")
    .map((line) => line.replace(/#.*$/, "").trim())
    .filter(Boolean);
}
