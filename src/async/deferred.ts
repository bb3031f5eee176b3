// A promise settled from outside, and a way to stop waiting for one when a signal aborts.

export class Deferred<T> {
  readonly promise: Promise<T>;
  resolve!: (value: T) => void;
  reject!: (reason: unknown) => void;
  settled = false;

  constructor() {
    this.promise = new Promise<T>((resolve, reject) => {
      this.resolve = (value) => {
        this.settled = true;
        resolve(value);
      };
      this.reject = (reason) => {
        this.settled = true;
        reject(reason);
      };
    });
    // Nobody may be waiting when it fails; that is not an unhandled rejection.
    this.promise.catch(() => {});
  }
}

/**
 * Waits for `promise`, or rejects as soon as `signal` aborts: with `abortReason` if given, else
 * with the signal's reason.
 */
export function untilSettled<T>(
  promise: Promise<T>,
  signal: AbortSignal,
  abortReason?: unknown,
): Promise<T> {
  const reason = () => (abortReason === undefined ? signal.reason : abortReason);
  if (signal.aborted) return Promise.reject(reason());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(reason());
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
