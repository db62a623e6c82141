// Bounded error text: input can hold a 100 KB name or a 20 MB rc string, and an error message
// echoes input. Every message that quotes input goes through `clip`/`show`, and every list of
// problems through `someProblems`. Used by the validator, the trace check, the workers and the CLI.

/** how many characters of an input value an error message quotes */
export const SHOWN_CHARS = 200;
/** how many problems an error message lists */
export const SHOWN_PROBLEMS = 20;

/** `s` itself when short, else its first `max` characters and the full length. */
export function clip(s: string, max = SHOWN_CHARS): string {
  return s.length <= max ? s : `${s.slice(0, max)}… (${s.length} chars)`;
}

/** Any value as bounded JSON for a message (strings quoted). */
export function show(v: unknown, max = SHOWN_CHARS): string {
  let s: string;
  try { s = v === undefined ? 'undefined' : typeof v === 'bigint' ? `${v}n` : JSON.stringify(v) ?? String(v); } catch { s = String(v); }
  return clip(s, max);
}

/** The first `max` problems (each clipped) and a count of the rest. */
export function someProblems(problems: readonly string[], max = SHOWN_PROBLEMS): string[] {
  const out = problems.slice(0, max).map((p) => clip(p, SHOWN_CHARS * 2));
  if (problems.length > max) out.push(`(${problems.length - max} more problem(s))`);
  return out;
}
