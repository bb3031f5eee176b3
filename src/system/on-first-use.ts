// A library loaded the first time it is needed, synchronously (require of CommonJS and of ES
// modules without top-level await, Node >= 22.12): a hub whose agents never use it never pays
// its memory or load time (execa for stdio agents, ws for WebSocket agents).
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

export function onFirstUse<T>(specifier: string): () => T {
  let loaded: T | undefined;
  return () => {
    loaded ??= require(specifier) as T;
    return loaded;
  };
}
