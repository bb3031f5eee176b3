// An abortable wait that leaves no timer behind when its signal aborts.

/**
 * Resolves after `ms`, or at once when `signal` aborts (callers check `signal.aborted`).
 * `unref: true` for waits that must not keep the process alive on their own.
 */
export function delay(
  ms: number,
  signal: AbortSignal,
  options: { unref?: boolean } = {},
): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    if (options.unref) timer.unref();
    signal.addEventListener("abort", done, { once: true });
  });
}
