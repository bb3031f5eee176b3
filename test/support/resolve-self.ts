// `node --import ./test/support/resolve-self.ts examples/…mjs`: "hybro-hub" resolves to this
// checkout's src/index.ts, so tests run the examples as written without building dist/ first.
import { registerHooks } from "node:module";

const SOURCE = new URL("../../src/index.ts", import.meta.url).href;

registerHooks({
  resolve(specifier, context, nextResolve) {
    if (specifier === "hybro-hub") return { url: SOURCE, format: "module", shortCircuit: true };
    return nextResolve(specifier, context);
  },
});
