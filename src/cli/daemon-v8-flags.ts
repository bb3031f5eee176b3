// V8 settings for the daemon (`hybro-hub start`), set by the bin before the hub loads, so that
// the service units, the background start and a hand-run `start --foreground` all get them.
// A daemon holds little (~25 MB of live heap), but by default V8 sizes the young generation up
// to 16 MB per semi-space and grows the old one freely under load, and keeps what it grew:
// measured with bench/footprint.ts (one HTTP echo agent, concurrency 64) the resident size was
// 174 MB after 2,000 turns and 271 MB after 10,000; with these settings about 110 and 118, at
// the same turns/s (README, "Footprint"). A flag the user gives (`node --max-semi-space-size=…`,
// NODE_OPTIONS) wins.
import { setFlagsFromString } from "node:v8";

export const DAEMON_V8_FLAGS = ["--max-semi-space-size=1", "--optimize-for-size"] as const;

/** The flags of DAEMON_V8_FLAGS that neither the command line nor NODE_OPTIONS already sets. */
export function daemonV8FlagsToSet(execArgv: readonly string[], nodeOptions: string): string[] {
  const given = [...execArgv, ...nodeOptions.split(/\s+/)].map((flag) =>
    flag.split("=")[0]!.replaceAll("_", "-"),
  );
  return DAEMON_V8_FLAGS.filter((flag) => !given.includes(flag.split("=")[0]!));
}

export function setDaemonV8Flags(): void {
  for (const flag of daemonV8FlagsToSet(process.execArgv, process.env.NODE_OPTIONS ?? "")) {
    setFlagsFromString(flag);
  }
}
