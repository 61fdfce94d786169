import { isUnknown } from "./dynamic.js";
import type { Failure } from "./ssh/connection.js";

/** Validates an optional absolute path input; unknown values pass. */
export function checkAbsolutePath(failures: Failure[], property: string, value: unknown, example: string): void {
  if (value === undefined || isUnknown(value)) return;
  if (typeof value !== "string" || !value.startsWith("/") || value.includes("\0") || /(^|\/)\.\.(\/|$)/.test(value)) {
    failures.push({ property, reason: `${property} must be an absolute path on the host without ".." (e.g. ${example}), got ${JSON.stringify(value)}` });
  }
}

/** Validates an optional boolean input. */
export function checkBoolean(failures: Failure[], property: string, value: unknown, defaultText: string): void {
  if (value === undefined || isUnknown(value) || typeof value === "boolean") return;
  failures.push({ property, reason: `${property} must be true or false (default ${defaultText}), got ${JSON.stringify(value)}` });
}

/** hostMove, on every resource a host move concerns: "cold" (the default) or "live". */
export function checkHostMove(failures: Failure[], value: unknown): void {
  if (value === undefined || isUnknown(value) || value === "cold" || value === "live") return;
  failures.push({ property: "hostMove", reason: `hostMove must be "cold" (stop, move, start: the default) or "live" (migrate while it runs), got ${JSON.stringify(value)}` });
}

/** Whether any value in a (possibly nested) input is still unknown (preview). */
export function hasUnknowns(value: unknown): boolean {
  if (isUnknown(value)) return true;
  if (Array.isArray(value)) return value.some(hasUnknowns);
  if (typeof value === "object" && value !== null) return Object.values(value).some(hasUnknowns);
  return false;
}
