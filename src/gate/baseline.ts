// The gate's baseline: signatures accepted as known divergences, each with the reason (for example
// soft-dirty on an architecture that has none). A file is a JSON list of {signature, reason}, or
// {"format": "ptefarm-baseline/1", "accepted": [...]}. A signature may use `*` as a wildcard
// ("bit.D.*" accepts every soft-dirty bit divergence). The object form may say which signature
// scheme its patterns were written in (`signature_version`, src/findings/signature.ts
// SIGNATURE_VERSION): a pattern of an older scheme — or of a list that does not say, since the
// re-keying is idempotent on current signatures — is read in today's (currentSignature), so a
// baseline written before a re-keying keeps accepting the same root causes; one written by a newer
// ptefarm is refused rather than half understood.
import { readFileSync } from 'node:fs';
import { SIGNATURE_VERSION, currentSignature } from '../findings/signature.ts';

export interface BaselineEntry {
  /** the pattern in today's signature scheme (what matchBaseline compares) */
  signature: string;
  reason: string;
  /** the pattern as the file wrote it, when the scheme's re-keying changed it */
  written?: string;
}
export type Baseline = BaselineEntry[];

export class BaselineError extends Error {}

export function parseBaseline(raw: unknown, source = 'baseline'): Baseline {
  const list = Array.isArray(raw) ? raw
    : raw && typeof raw === 'object' && Array.isArray((raw as { accepted?: unknown }).accepted) ? (raw as { accepted: unknown[] }).accepted
    : undefined;
  if (!list) throw new BaselineError(`${source}: expected a JSON list of {"signature", "reason"} (or {"accepted": [...]})`);
  const version = Array.isArray(raw) ? undefined : (raw as { signature_version?: unknown }).signature_version;
  if (version !== undefined && (!Number.isInteger(version) || (version as number) < 1)) throw new BaselineError(`${source}: "signature_version" must be a positive integer, not ${JSON.stringify(version)}`);
  if (typeof version === 'number' && version > SIGNATURE_VERSION) {
    throw new BaselineError(`${source}: written for signature scheme ${version}; this ptefarm knows schemes up to ${SIGNATURE_VERSION} (upgrade ptefarm, or rewrite the baseline)`);
  }
  return list.map((e, i) => {
    if (!e || typeof e !== 'object') throw new BaselineError(`${source}: entry ${i} is not an object`);
    const { signature, reason } = e as Record<string, unknown>;
    if (typeof signature !== 'string' || !signature.trim()) throw new BaselineError(`${source}: entry ${i}: "signature" must be a non-empty string`);
    if (typeof reason !== 'string' || !reason.trim()) throw new BaselineError(`${source}: entry ${i} (${signature}): "reason" must say why the signature is accepted`);
    const now = version === SIGNATURE_VERSION ? signature : currentSignature(signature);
    return now === signature ? { signature, reason } : { signature: now, reason, written: signature };
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
