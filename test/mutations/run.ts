// Applies each mutation of mutations.ts to a temporary copy of the project, runs the focused
// tests it names, and prints which mutations the tests kill and which survive. The working
// tree is never changed (the copy is deleted at the end, on Ctrl-C too).
//
//   npm run test:mutations [-- --only name,name] [--skip-missing-tests] [--no-baseline]
//
// Exit code: 0 when every mutation is killed; 1 when one survives; 2 when a mutation could not
// be applied (its search string is gone: the code moved, update the list) or the unmutated
// tests already fail (baseline), since neither says anything about the tests.
import { spawn } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { MUTATIONS, type Mutation } from "./mutations.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
/** One mutation's tests may not take longer than this (a mutation can make a test hang). */
const RUN_LIMIT_MS = 10 * 60_000;

type Verdict = "killed" | "survived" | "not applied" | "no tests";
interface Row {
  name: string;
  verdict: Verdict;
  detail: string;
}

function parseArgs(argv: string[]) {
  const only = new Set<string>();
  let skipMissingTests = false;
  let baseline = true;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--only") {
      for (const n of (argv[++i] ?? "").split(",")) if (n) only.add(n);
    } else if (arg === "--skip-missing-tests") skipMissingTests = true;
    else if (arg === "--no-baseline") baseline = false;
    else throw new Error(`unknown argument ${arg}`);
  }
  return { only, skipMissingTests, baseline };
}

/** The project without node_modules, .git and dist, with node_modules linked in. */
function copyProject(): string {
  const copy = mkdtempSync(join(tmpdir(), "hybro-mutations-"));
  const skip = new Set(["node_modules", ".git", "dist", "coverage"]);
  cpSync(ROOT, copy, {
    recursive: true,
    filter: (source) => {
      const rel = source.slice(ROOT.length + 1);
      return rel === "" || !skip.has(rel.split("/")[0] as string);
    },
  });
  symlinkSync(join(ROOT, "node_modules"), join(copy, "node_modules"), "dir");
  return copy;
}

function runTests(cwd: string, files: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((done) => {
    const child = spawn(
      process.execPath,
      [join(ROOT, "node_modules", "vitest", "vitest.mjs"), "run", "--bail=1", ...files],
      { cwd, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, CI: "1" }, detached: true },
    );
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-20_000);
    });
    child.stderr.on("data", (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-20_000);
    });
    const limit = setTimeout(() => {
      output += `\n(mutation runner: tests stopped after ${RUN_LIMIT_MS} ms)`;
      if (child.pid) process.kill(-child.pid, "SIGKILL");
    }, RUN_LIMIT_MS);
    running = child.pid ?? null;
    child.on("close", (code) => {
      clearTimeout(limit);
      running = null;
      done({ code, output });
    });
  });
}

let running: number | null = null;

/** Applies the edits in `copy`; returns the files' original texts, or why it cannot. */
function apply(copy: string, mutation: Mutation): Map<string, string> | string {
  const originals = new Map<string, string>();
  const texts = new Map<string, string>();
  for (const edit of mutation.edits) {
    const path = join(copy, edit.file);
    if (!existsSync(path)) return `${edit.file} does not exist`;
    if (!originals.has(path)) originals.set(path, readFileSync(path, "utf8"));
    const text = texts.get(path) ?? (originals.get(path) as string);
    const count = text.split(edit.search).length - 1;
    if (count !== 1) {
      return `search string found ${count} times in ${edit.file} (must be once): ${JSON.stringify(edit.search.slice(0, 80))}`;
    }
    texts.set(
      path,
      text.replace(edit.search, () => edit.replace),
    );
  }
  for (const [path, text] of texts) writeFileSync(path, text);
  return originals;
}

function lastLines(output: string, count: number): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: strips terminal colours
  const plain = output.replace(/\x1b\[[0-9;]*m/g, "");
  return plain.trimEnd().split("\n").slice(-count).join("\n");
}

function failedTestOf(output: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: strips terminal colours
  const plain = output.replace(/\x1b\[[0-9;]*m/g, "");
  // "FAIL  <project>  test/x.test.ts > describe > test" (the project label is optional)
  const failed = plain.match(/FAIL\s+(?:(?:unit|integration)\s+)?(\S+\.test\.ts)\s*>\s*([^\n]+)/);
  if (failed) return `${failed[1]} > ${failed[2]?.trim()}`.slice(0, 120);
  if (plain.includes("tests stopped after")) return "timed out";
  return "tests failed";
}

function printTable(rows: Row[]): void {
  const width = Math.max(...rows.map((r) => r.name.length), 8);
  console.log(`\n| ${"mutation".padEnd(width)} | verdict     | detail`);
  console.log(`|${"-".repeat(width + 2)}|-------------|-------`);
  for (const row of rows) {
    console.log(`| ${row.name.padEnd(width)} | ${row.verdict.padEnd(11)} | ${row.detail}`);
  }
  const killed = rows.filter((r) => r.verdict === "killed").length;
  console.log(`\n${killed} of ${rows.length} mutations killed`);
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const chosen = MUTATIONS.filter((m) => args.only.size === 0 || args.only.has(m.name));
  for (const name of args.only) {
    if (!MUTATIONS.some((m) => m.name === name)) throw new Error(`no mutation named ${name}`);
  }
  const copy = copyProject();
  const cleanUp = () => {
    if (running !== null) {
      try {
        process.kill(-running, "SIGKILL");
      } catch {}
    }
    rmSync(copy, { recursive: true, force: true });
  };
  const onSignal = () => {
    cleanUp();
    process.exit(130);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    const testsOf = (m: Mutation) =>
      m.tests.filter((t) => !args.skipMissingTests || existsSync(join(copy, t)));
    for (const m of chosen) {
      for (const t of m.tests) {
        if (!args.skipMissingTests && !existsSync(join(copy, t))) {
          throw new Error(`mutation ${m.name} names ${t}, which does not exist`);
        }
      }
    }
    if (args.baseline) {
      const all = [...new Set(chosen.flatMap(testsOf))];
      console.log(`baseline: ${all.length} test files, unmutated`);
      const base = await runTests(copy, all);
      if (base.code !== 0) {
        console.error(`the unmutated tests fail; fix that first:\n${lastLines(base.output, 40)}`);
        return 2;
      }
    }
    const rows: Row[] = [];
    for (const m of chosen) {
      const tests = testsOf(m);
      if (tests.length === 0) {
        rows.push({ name: m.name, verdict: "no tests", detail: "none of its test files exist" });
        continue;
      }
      const applied = apply(copy, m);
      if (typeof applied === "string") {
        console.error(`NOT APPLIED ${m.name}: ${applied}`);
        rows.push({ name: m.name, verdict: "not applied", detail: applied });
        continue;
      }
      try {
        process.stdout.write(`${m.name} … `);
        const result = await runTests(copy, tests);
        const verdict: Verdict = result.code === 0 ? "survived" : "killed";
        const detail =
          verdict === "killed" ? failedTestOf(result.output) : `${tests.join(", ")} pass`;
        console.log(verdict);
        rows.push({ name: m.name, verdict, detail });
      } finally {
        for (const [path, text] of applied) writeFileSync(path, text);
      }
    }
    printTable(rows);
    if (rows.some((r) => r.verdict === "not applied")) return 2;
    return rows.some((r) => r.verdict === "survived" || r.verdict === "no tests") ? 1 : 0;
  } finally {
    cleanUp();
  }
}

process.exitCode = await main();
