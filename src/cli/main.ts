#!/usr/bin/env node
// The bin. It checks the Node version before loading anything else: the commands import modules
// (node:sqlite, …) that an older Node cannot even link, which would end in a stack trace.
import { ExitCode } from "../system/exit-codes.ts";
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

// `dev` (the quick start's command) and `start` (the daemon, all day) load only their own module:
// the others bring in the development relay, the SDK and their libraries, which a running hub
// would otherwise hold in memory for nothing (and load at every start).
const command = process.argv[2];
const program =
  command === "dev" || command === "start" ? await oneCommandProgram(command) : await fullProgram();
try {
  await program.parseAsync(process.argv);
} catch (error) {
  // A folder it cannot write, a full disk: one line saying what to do. Anything else is a bug.
  const { oneLineError } = await import("../system/one-line-errors.ts");
  const line = oneLineError(error);
  if (!line) throw error;
  process.stderr.write(`error: ${line}\n`);
  process.exitCode = ExitCode.error;
}

async function fullProgram() {
  return (await import("./program.ts")).buildProgram();
}

async function oneCommandProgram(command: "dev" | "start") {
  const [{ rootProgram }, register] = await Promise.all([
    import("./program-root.ts"),
    command === "dev"
      ? import("./dev.ts").then((module) => module.registerDevCommand)
      : import("./start.ts").then((module) => module.registerStartCommand),
  ]);
  const program = rootProgram();
  register(program);
  return program;
}
