import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomically } from "../system/private-files.ts";

const HUB_ID = /^[0-9a-f]{32}$/;
const hubIdFile = (dataDir: string) => join(dataDir, "hub_id");

/** The hub id saved in the data folder, or null when there is none (or it is damaged). */
export function readHubId(dataDir: string): string | null {
  try {
    const existing = readFileSync(hubIdFile(dataDir), "utf8").trim();
    return HUB_ID.test(existing) ? existing : null;
  } catch {
    return null;
  }
}

/**
 * The hub's identity at the relay: 32 lowercase hex, made once and kept in the data directory
 * (a restart must not create a new hub in the cloud). A damaged file is replaced, with a warning.
 */
export function loadOrCreateHubId(
  dataDir: string,
  warn: (message: string) => void = () => {},
): string {
  const file = hubIdFile(dataDir);
  try {
    const existing = readFileSync(file, "utf8").trim();
    if (HUB_ID.test(existing)) return existing;
    warn(`${file} does not hold a 32-hex hub id; making a new one (the relay will see a new hub)`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const id = randomUUID().replaceAll("-", "");
  writeFileAtomically(file, `${id}\n`);
  return id;
}
