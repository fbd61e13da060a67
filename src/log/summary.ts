/**
 * {@linkcode formatSummary}: the few lines a node or gateway prints when it
 * starts, so that an operator sees at a glance what it is doing.
 *
 * @module
 */

/**
 * Lays out `rows` of label and value under `title`, labels aligned; a
 * value's extra lines are indented under it.
 *
 * @example Two rows
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatSummary } from "@mccache/core/node";
 *
 * const text = formatSummary("mccache node", [["address", "127.0.0.1:8001"], ["TLS", "off"]]);
 * assert.equal(text, "mccache node\n  address  127.0.0.1:8001\n  TLS      off");
 * ```
 */
export function formatSummary(
  title: string,
  rows: readonly (readonly [string, string])[],
): string {
  const width = Math.max(...rows.map(([label]) => label.length));
  const lines = [title];
  for (const [label, value] of rows) {
    const [first, ...rest] = value.split("\n");
    lines.push(`  ${label.padEnd(width)}  ${first}`);
    for (const line of rest) lines.push(`  ${"".padEnd(width)}  ${line}`);
  }
  return lines.join("\n");
}

/**
 * Writes a byte count as people read it: `64 MiB`, `1.5 KiB`, `512 B`.
 *
 * @example Budgets
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatBytes } from "@mccache/core/node";
 *
 * assert.equal(formatBytes(64 << 20), "64 MiB");
 * assert.equal(formatBytes(1536), "1.5 KiB");
 * ```
 */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const shown = Number.isInteger(value) ? String(value) : value.toFixed(1).replace(/\.0$/, "");
  return `${shown} ${units[unit]}`;
}

/**
 * Lists members on at most a few lines: the first `max`, then how many more.
 *
 * @example A long list cut short
 * ```ts
 * import assert from "node:assert/strict";
 * import { listMembers } from "@mccache/core/node";
 *
 * assert.equal(listMembers(["a", "b", "c"], 2), "3: a, b, ... and 1 more");
 * ```
 */
export function listMembers(members: readonly string[], max = 6): string {
  const shown = members.slice(0, max).join(", ");
  const more = members.length > max ? `, ... and ${members.length - max} more` : "";
  return `${members.length}${members.length > 0 ? ": " : ""}${shown}${more}`;
}
