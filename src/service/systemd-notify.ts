// systemd readiness for `Type=notify`. Node cannot send the AF_UNIX datagram sd_notify needs
// (nodejs/node#29339), so the message goes through `systemd-notify`, which the unit allows with
// `NotifyAccess=all`. Since systemd 246 systemd-notify waits until the manager has processed the
// message (sd_notify_barrier), which removes the old race where the sender exited before
// systemd could attribute it to the unit.
import { execFile } from "node:child_process";

/** The socket systemd gave this process, taken out of the environment so agents never see it. */
export function takeNotifySocket(env: NodeJS.ProcessEnv = process.env): string | null {
  const socket = env.NOTIFY_SOCKET ?? null;
  delete env.NOTIFY_SOCKET;
  return socket;
}

interface SystemdNotice {
  ready?: boolean;
  stopping?: boolean;
  /** Free text shown by `systemctl status`. */
  status?: string;
}

/** Sends the notice; resolves to an error message, or null when systemd took it. */
export function notifySystemd(
  socket: string,
  notice: SystemdNotice,
  timeoutMs = 5_000,
): Promise<string | null> {
  const args: string[] = [];
  if (notice.ready) args.push("--ready");
  if (notice.stopping) args.push("--stopping");
  if (notice.status !== undefined) args.push(`--status=${notice.status}`);
  return new Promise((resolve) => {
    execFile(
      "systemd-notify",
      args,
      { env: { ...process.env, NOTIFY_SOCKET: socket }, timeout: timeoutMs },
      (error) => resolve(error ? `systemd-notify failed: ${error.message}` : null),
    );
  });
}
