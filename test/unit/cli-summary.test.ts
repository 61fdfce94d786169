import { describe, expect, it } from "vitest";
import { parseSummary } from "../support/summary.js";

// The end-to-end tests read what the Pulumi CLI printed; these are its texts (v3.252.0, --color never).
describe("parseSummary", () => {
  it("reads a preview", () => {
    expect(parseSummary("Outputs:\n    a: 1\n\nResources:\n    + 5 to create\n    ~ 1 to update\n    +-1 to replace\n    - 2 to delete\n    4 unchanged\n\n")).toEqual({ create: 5, update: 1, replace: 1, delete: 2, same: 4 });
  });

  it("reads up, refresh and destroy", () => {
    expect(parseSummary("\nResources:\n    + 5 created\n\nDuration: 14s\n")).toEqual({ create: 5 });
    expect(parseSummary("\nResources:\n    ~ 1 updated\n    4 unchanged\n\nDuration: 3s\n")).toEqual({ update: 1, same: 4 });
    expect(parseSummary("\nResources:\n    +-1 replaced\n    - 2 deleted\n\nDuration: 3s\n")).toEqual({ replace: 1, delete: 2 });
  });

  it("takes the last block and ignores what it does not count", () => {
    expect(parseSummary("\nResources:\n    + 9 to create\n\nx\nResources:\n    + 1 to create\n    1 errored\n")).toEqual({ create: 1 });
    expect(parseSummary("error: no Resources block")).toEqual({});
  });
});
