// Process settings for the long-running hub, given where the daemon process is started: by a
// background `start` (the daemon child) and by the systemd and launchd units. They cannot be set
// from inside a running process (V8 sizes its heap at start; glibc reads its malloc settings at
// start). A hand-run `start --foreground` takes them as
// `MALLOC_MMAP_THRESHOLD_=131072 node --max-semi-space-size=4 --max-old-space-size=512 "$(command -v hybro-hub)" …`.
// Figures: bench/footprint.ts and bench/run.ts, README "Footprint".

// - 4 MB semi-spaces: by default V8 lets the young generation grow to 64 MB under load and keeps
//   it. With 4 MB ones the hub held 213 MB after 3,200 turns at concurrency 64 instead of 322, and
//   spent 1.42 ms of CPU per turn instead of 1.97 (3 alternated runs on a quiet 2-core machine,
//   medians); 1 MB ones saved no more and cost more CPU.
// - A 512 MB old generation: V8 lets the old generation grow to a multiple of what survives a full
//   GC before it collects again, and derives the largest multiple from this cap: 4x from 2 GB up
//   (the default cap is 4 GB on 64-bit machines with 16 GB or more), 1.4x at 512 MB (V8's
//   heap-controller.h). The hub keeps about 20 MB alive: it ran up to ~90 MB between full GCs.
//   512 MB is 25 times what the hub holds even under the 100,000-turn flood.
export const DAEMON_NODE_FLAGS: readonly string[] = [
  "--max-semi-space-size=4",
  "--max-old-space-size=512",
];

// glibc's malloc raises its mmap threshold (up to 32 MB) each time it frees a large block, and from
// then on serves large blocks from the arenas, where freed ones stay resident: V8's optimizing
// compiler, run on a worker thread at start, left ~9 MB in that thread's arena for good. Fixed at
// its initial 128 KiB, large blocks go back to the system when freed. Other C libraries (macOS,
// musl) ignore the variable. Agents never see it (agents/transports/child-env.ts).
export const DAEMON_ENV: Readonly<Record<string, string>> = { MALLOC_MMAP_THRESHOLD_: "131072" };

/** DAEMON_NODE_FLAGS minus those the user already set (on the command line or NODE_OPTIONS). */
export function daemonNodeFlags(execArgv: readonly string[], nodeOptions = ""): string[] {
  const name = (flag: string) => flag.split("=")[0]!.replaceAll("_", "-");
  const given = new Set([...execArgv, ...nodeOptions.split(/\s+/)].map(name));
  return DAEMON_NODE_FLAGS.filter((flag) => !given.has(name(flag)));
}

/** The environment for the daemon: `env` with DAEMON_ENV added where the user set nothing. */
export function daemonEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...DAEMON_ENV, ...env };
}
