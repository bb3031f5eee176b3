// Preloaded (`node --import`) into a hub under test: every module it loads (import or require),
// written one URL a line to the file named by HYBRO_TEST_LOADED_MODULES when it exits.
import { writeFileSync } from "node:fs";
import { registerHooks } from "node:module";

const file = process.env.HYBRO_TEST_LOADED_MODULES;
if (file) {
  const loaded = new Set();
  registerHooks({
    load(url, context, nextLoad) {
      loaded.add(url);
      return nextLoad(url, context);
    },
  });
  process.on("exit", () => writeFileSync(file, [...loaded].join("\n")));
}
