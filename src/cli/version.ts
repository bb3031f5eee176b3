import { readFileSync } from "node:fs";

/** The version in package.json (found from src/ when run from source, dist/ when installed). */
export function packageVersion(): string {
  const url = new URL("../../package.json", import.meta.url);
  return (JSON.parse(readFileSync(url, "utf8")) as { version: string }).version;
}
