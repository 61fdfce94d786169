/**
 * The release step of CHANGELOG.md, run by `npm version <version>` (package.json's `preversion` and
 * `version` scripts; CONTRIBUTING.md, "Releasing"): the entries under "## [Unreleased]" become the
 * section "## [<version>] - <date>", and an empty "Unreleased" section stays on top for the next ones.
 *
 *   node scripts/changelog.mts --check   refuse the release before npm touches package.json
 *   node scripts/changelog.mts           rewrite CHANGELOG.md (npm then commits it with the bump)
 *
 * The version comes from $npm_new_version, which `npm version` sets for both scripts.
 */
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const UNRELEASED = "## [Unreleased]";

/** CHANGELOG.md with its Unreleased entries released as `version` on `date` (YYYY-MM-DD); throws with the fix. */
export function releaseChangelog(text: string, version: string, date: string): string {
  if (!/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(version)) throw new Error(`CHANGELOG.md: "${version}" is not a version like 1.2.3`);
  const lines = text.split("\n");
  const start = lines.indexOf(UNRELEASED);
  if (start < 0) throw new Error(`CHANGELOG.md has no "${UNRELEASED}" heading: add it above the newest release`);
  if (lines.some((l) => l.startsWith(`## [${version}]`))) throw new Error(`CHANGELOG.md already has a section for ${version}: choose the next version`);
  const next = lines.findIndex((l, i) => i > start && l.startsWith("## "));
  const end = next < 0 ? lines.length : next;
  const entries = lines.slice(start + 1, end);
  // A release must say what changed: an empty section means the changes were never written down.
  if (!entries.some((l) => /^\s*[-*] /.test(l))) {
    throw new Error(`CHANGELOG.md: nothing under "${UNRELEASED}" to release as ${version}: list the changes there first`);
  }
  return [...lines.slice(0, start), UNRELEASED, "", `## [${version}] - ${date}`, ...entries, ...lines.slice(end)].join("\n");
}

function main(): void {
  const version = process.env["npm_new_version"];
  if (version === undefined || version === "") throw new Error("no $npm_new_version: run this through `npm version <version>`");
  const file = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../CHANGELOG.md");
  const released = releaseChangelog(readFileSync(file, "utf8"), version, new Date().toISOString().slice(0, 10));
  if (!process.argv.includes("--check")) writeFileSync(file, released);
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main();
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  }
}
