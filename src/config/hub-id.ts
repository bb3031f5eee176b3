import { randomUUID } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const HUB_ID = /^[0-9a-f]{32}$/;

/**
 * The hub's identity at the relay: 32 lowercase hex, made once and kept in the data directory
 * (a restart must not create a new hub in the cloud). A damaged file is replaced, with a warning.
 */
export function loadOrCreateHubId(
  dataDir: string,
  warn: (message: string) => void = () => {},
): string {
  const file = join(dataDir, "hub_id");
  try {
    const existing = readFileSync(file, "utf8").trim();
    if (HUB_ID.test(existing)) return existing;
    warn(`${file} does not hold a 32-hex hub id; making a new one (the relay will see a new hub)`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const id = randomUUID().replaceAll("-", "");
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  writeFileSync(file, `${id}\n`, { mode: 0o600 });
  return id;
}
