import { readFileSync } from "node:fs";
import { packagePath } from "./entry-path.ts";

/** The version in package.json (found from src/ when run from source, dist/ when installed). */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(packagePath("package.json"), "utf8")) as { version: string })
    .version;
}
