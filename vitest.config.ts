import { defineConfig } from "vitest/config";
import { UNIT_TEST_FILES } from "./test/unit-files.ts";

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Real servers and child processes: keep parallelism modest on 2-core machines.
    maxWorkers: 2,
    teardownTimeout: 10_000,
    // `vitest run` runs both; `npm run test:unit` only the first (see test/unit-files.ts).
    projects: [
      { extends: true, test: { name: "unit", include: [...UNIT_TEST_FILES] } },
      {
        extends: true,
        test: {
          name: "integration",
          include: ["test/**/*.test.ts"],
          exclude: [...UNIT_TEST_FILES],
        },
      },
    ],
  },
});
