import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { releaseChangelog } from "../../scripts/changelog.mts";
import { REPO_ROOT } from "../support/testhost.js";

const run = promisify(execFile);

const CHANGELOG = ["# Changelog", "", "Intro.", "", "## [Unreleased]", "", "### Added", "", "- Live moves.", "", "## [0.1.0] - 2026-01-02", "", "### Added", "", "- HostInfo.", ""].join("\n");

describe("npm version's CHANGELOG step", () => {
  it("moves the Unreleased entries under the new version and keeps an empty Unreleased on top", () => {
    expect(releaseChangelog(CHANGELOG, "0.2.0", "2026-03-04")).toBe(
      ["# Changelog", "", "Intro.", "", "## [Unreleased]", "", "## [0.2.0] - 2026-03-04", "", "### Added", "", "- Live moves.", "", "## [0.1.0] - 2026-01-02", "", "### Added", "", "- HostInfo.", ""].join("\n"),
    );
  });

  it("refuses a release with nothing listed, a version released before, and a non-version", () => {
    const released = releaseChangelog(CHANGELOG, "0.2.0", "2026-03-04");
    expect(() => releaseChangelog(released, "0.3.0", "2026-03-05")).toThrow('CHANGELOG.md: nothing under "## [Unreleased]" to release as 0.3.0: list the changes there first');
    expect(() => releaseChangelog(CHANGELOG, "0.1.0", "2026-03-05")).toThrow("CHANGELOG.md already has a section for 0.1.0: choose the next version");
    expect(() => releaseChangelog(CHANGELOG, "v0.2.0", "2026-03-05")).toThrow('"v0.2.0" is not a version like 1.2.3');
  });

  it("the repository's own CHANGELOG.md can be released, and the check refuses outside npm version", async () => {
    expect(releaseChangelog(readFileSync(path.join(REPO_ROOT, "CHANGELOG.md"), "utf8"), "9.9.9", "2026-01-01")).toContain("## [9.9.9] - 2026-01-01");
    const { npm_new_version: _unset, ...env } = process.env;
    const failed = await run("node", [path.join(REPO_ROOT, "scripts/changelog.mts"), "--check"], { env }).then(
      () => undefined,
      (err: { stderr: string }) => err,
    );
    expect(failed?.stderr).toContain("run this through `npm version <version>`");
    await run("node", [path.join(REPO_ROOT, "scripts/changelog.mts"), "--check"], { env: { ...env, npm_new_version: "9.9.9" } });
  });
});
