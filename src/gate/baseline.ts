// The gate's baseline: signatures accepted as known divergences, each with the reason (for example
// soft-dirty on an architecture that has none). A file is a JSON list of {signature, reason}, or
// {"format": "ptefarm-baseline/1", "accepted": [...]}. A signature may use `*` as a wildcard
// ("bit.D.*" accepts every soft-dirty bit divergence).
import { readFileSync } from 'node:fs';

export interface BaselineEntry { signature: string; reason: string }
export type Baseline = BaselineEntry[];

export class BaselineError extends Error {}

export function parseBaseline(raw: unknown, source = 'baseline'): Baseline {
  const list = Array.isArray(raw) ? raw
    : raw && typeof raw === 'object' && Array.isArray((raw as { accepted?: unknown }).accepted) ? (raw as { accepted: unknown[] }).accepted
    : undefined;
  if (!list) throw new BaselineError(`${source}: expected a JSON list of {"signature", "reason"} (or {"accepted": [...]})`);
  return list.map((e, i) => {
    if (!e || typeof e !== 'object') throw new BaselineError(`${source}: entry ${i} is not an object`);
    const { signature, reason } = e as Record<string, unknown>;
    if (typeof signature !== 'string' || !signature.trim()) throw new BaselineError(`${source}: entry ${i}: "signature" must be a non-empty string`);
    if (typeof reason !== 'string' || !reason.trim()) throw new BaselineError(`${source}: entry ${i} (${signature}): "reason" must say why the signature is accepted`);
    return { signature, reason };
  });
}

export function readBaseline(path: string): Baseline {
  let text: string;
  try { text = readFileSync(path, 'utf8'); } catch (e) { throw new BaselineError(`${path}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`); }
  let raw: unknown;
  try { raw = JSON.parse(text); } catch (e) { throw new BaselineError(`${path}: not valid JSON: ${(e as Error).message}`); }
  return parseBaseline(raw, path);
}

const glob = (pat: string) => new RegExp('^' + pat.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$');

/** The baseline entry accepting `sig`, if any. */
export function matchBaseline(b: Baseline, sig: string): BaselineEntry | undefined {
  return b.find((e) => e.signature === sig || (e.signature.includes('*') && glob(e.signature).test(sig)));
}
