/** Exit codes of every command, shared with the service files (RestartPreventExitStatus) and tests. */
export const ExitCode = {
  ok: 0,
  /** Anything else that went wrong; the message says what. */
  error: 1,
  /** Bad flags or missing configuration. */
  usage: 2,
  /** The relay refused the key (401/403): restarting will not help. */
  auth: 3,
  /** `status`, `agents`: no hub is running (`stop` of a stopped hub is not an error: 0). */
  notRunning: 4,
  /** Killed by a second SIGINT/SIGTERM during a graceful stop. */
  forced: 130,
} as const;
