/** Counts from the "Resources:" block the Pulumi CLI prints after preview, up, refresh and destroy. */
export interface ChangeSummary {
  create?: number;
  update?: number;
  replace?: number;
  delete?: number;
  same?: number;
}

const KINDS: Array<[RegExp, keyof ChangeSummary]> = [
  [/^(?:to create|created)$/, "create"],
  [/^(?:to update|updated)$/, "update"],
  [/^(?:to replace|replaced)$/, "replace"],
  [/^(?:to delete|deleted)$/, "delete"],
  [/^unchanged$/, "same"],
];

/**
 * Parses the last "Resources:" block of the CLI's text (`+ 5 to create`, `~ 1 updated`,
 * `+-1 replaced`, `4 unchanged`). Lines it does not know (`1 errored`) are left out.
 */
export function parseSummary(text: string): ChangeSummary {
  const start = text.lastIndexOf("\nResources:\n");
  if (start < 0) return {};
  const summary: ChangeSummary = {};
  for (const line of text.slice(start + "\nResources:\n".length).split("\n")) {
    const m = /^\s+(?:\+-|[+~-])?\s*(\d+)\s+(.+?)\s*$/.exec(line);
    if (m === null) break;
    const kind = KINDS.find(([re]) => re.test(m[2]!))?.[1];
    if (kind !== undefined) summary[kind] = Number(m[1]);
  }
  return summary;
}
