#!/usr/bin/env node
// The bin. It checks the Node version before loading anything else: the commands import modules
// (node:sqlite, …) that an older Node cannot even link, which would end in a stack trace.
import { ExitCode } from "./exit-codes.ts";
import { nodeVersionProblem } from "./node-version.ts";

const problem = nodeVersionProblem(process.version, process.execPath);
if (problem) {
  process.stderr.write(`error: ${problem}\n`);
  process.exit(ExitCode.usage);
}
// Node 22 calls node:sqlite experimental on every start; the outbox relies on it knowingly, so
// that one warning is dropped (all others still print).
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  const text = typeof warning === "string" ? warning : warning.message;
  if (text.startsWith("SQLite is an experimental feature")) return;
  (emitWarning as (...args: unknown[]) => void)(warning, ...rest);
}) as typeof process.emitWarning;

// `dev` is the quick start's command: loading only its module (the others bring in the whole
// hub) puts its first line on screen sooner.
const program = process.argv[2] === "dev" ? await devProgram() : await fullProgram();
try {
  await program.parseAsync(process.argv);
} catch (error) {
  // A folder it cannot write, a full disk: one line saying what to do. Anything else is a bug.
  const { oneLineError } = await import("./one-line-errors.ts");
  const line = oneLineError(error);
  if (!line) throw error;
  process.stderr.write(`error: ${line}\n`);
  process.exitCode = ExitCode.error;
}

async function fullProgram() {
  return (await import("./program.ts")).buildProgram();
}

async function devProgram() {
  const [{ rootProgram }, { registerDevCommand }] = await Promise.all([
    import("./program-root.ts"),
    import("./dev.ts"),
  ]);
  const program = rootProgram();
  registerDevCommand(program);
  return program;
}
