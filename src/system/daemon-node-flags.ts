// Node flags for the long-running hub, given where the daemon process is started: by a
// background `start` (the daemon child) and by the systemd and launchd units. They cannot be set
// from inside a running process (V8 sizes its heap at start; v8.setFlagsFromString is too late).
//
// By default V8 lets the young generation grow to 64 MB under load and keeps it. Measured with
// bench/run.ts (3,200 turns at concurrency 64; 3 alternated runs on a quiet 2-core machine,
// medians): with 4 MB semi-spaces the hub held 213 MB after the load instead of 322, and spent
// 1.42 ms of CPU per turn instead of 1.97; 1 MB ones saved no more and cost more CPU (README,
// "Footprint"). A hand-run `start --foreground` takes them as
// `node --max-semi-space-size=4 "$(command -v hybro-hub)" …`.
export const DAEMON_NODE_FLAGS: readonly string[] = ["--max-semi-space-size=4"];

/** DAEMON_NODE_FLAGS minus those the user already set (on the command line or NODE_OPTIONS). */
export function daemonNodeFlags(execArgv: readonly string[], nodeOptions = ""): string[] {
  const name = (flag: string) => flag.split("=")[0]!.replaceAll("_", "-");
  const given = new Set([...execArgv, ...nodeOptions.split(/\s+/)].map(name));
  return DAEMON_NODE_FLAGS.filter((flag) => !given.has(name(flag)));
}
