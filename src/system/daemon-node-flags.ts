// Node flags for the long-running hub, given where the daemon process is started: by a
// background `start` (the daemon child) and by the systemd and launchd units. They cannot be set
// from inside a running process (V8 sizes its heap at start; v8.setFlagsFromString is too late).
//
// By default V8 lets the young generation grow to tens of MB under load and keeps it: with
// 1 MB semi-spaces the hub measured (bench/footprint.ts, one HTTP echo agent, concurrency 64)
// about 10 MB less idle and 30 % less after 2,000 turns, for about 8 % more CPU per turn
// (README, "Footprint"). A hand-run `start --foreground` takes them as `node --max-semi-space-size=1 …`.
export const DAEMON_NODE_FLAGS: readonly string[] = ["--max-semi-space-size=1"];

/** DAEMON_NODE_FLAGS minus those the user already set (on the command line or NODE_OPTIONS). */
export function daemonNodeFlags(execArgv: readonly string[], nodeOptions = ""): string[] {
  const name = (flag: string) => flag.split("=")[0]!.replaceAll("_", "-");
  const given = new Set([...execArgv, ...nodeOptions.split(/\s+/)].map(name));
  return DAEMON_NODE_FLAGS.filter((flag) => !given.has(name(flag)));
}
