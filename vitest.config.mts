import { defineConfig } from "vitest/config";

// Three tiers, one run: unit (pure functions), integration (real sshd + libvirtd test host),
// e2e (the real Pulumi CLI on test projects). The scripts start the test host before vitest runs.
export default defineConfig({
  test: {
    // Removes what an interrupted earlier run left on the test hosts (test/support/sweep.ts).
    globalSetup: ["test/support/sweep.ts"],
    projects: [
      { test: { name: "unit", include: ["test/unit/**/*.test.ts"] } },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // Some tests count handshakes in sshd's log or kill sshd sessions: one file at a time.
          fileParallelism: false,
        },
      },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          testTimeout: 600_000,
          hookTimeout: 600_000,
          // Stacks share one test host; run e2e files one at a time.
          fileParallelism: false,
        },
      },
    ],
  },
});
