// A minimized case step by step: what the reference model expects and what the target showed,
// bit by bit, with runs of identical pages folded (`a[0..512)`). Used by the HTML report.
import type { Case } from '../ops/schema.ts';
import type { Trace } from '../ops/trace.ts';
import { formatOp } from '../ops/text.ts';
import { predict } from '../model/model.ts';
import { own } from '../ops/records.ts';
import { clip } from '../ops/bounded.ts';

export interface PageRun {
  first: number;
  last: number;
  expected: string;
  actual: string;
  /** character positions that differ (ignoring `?` and `*`) */
  diff: number[];
}

export interface RegionRows { proc: string; region: string; kind: 'pagemap' | 'scan'; runs: PageRun[] }

export interface StepRow {
  step: number;
  op: string;
  rc: { expected: string; actual: string; diff: boolean };
  skipped?: string;
  events?: { expected: string; actual: string; diff: boolean };
  regions: RegionRows[];
  mismatches: number;
}

const differs = (e: string, a: string): number[] => {
  const d: number[] = [];
  for (let k = 0; k < Math.max(e.length, a.length); k++) {
    const x = e[k] ?? '', y = a[k] ?? '';
    if (x === '*' || y === '?' || x === y) continue;
    d.push(k);
  }
  return d;
};

function fold(exp: string[] | undefined, act: string[], blank: string): PageRun[] {
  const runs: PageRun[] = [];
  act.forEach((a, page) => {
    const e = exp?.[page] ?? blank;
    const last = runs[runs.length - 1];
    if (last && last.expected === e && last.actual === a && last.last === page - 1) { last.last = page; return; }
    runs.push({ first: page, last: page, expected: e, actual: a, diff: differs(e, a) });
  });
  return runs;
}

const ev = (xs: { kind: string; proc: number; region?: string; page?: number; child?: number }[]) =>
  xs.map((e) => `${e.kind} p${e.proc}${e.region !== undefined ? ` ${e.region}[${e.page}]` : ''}${e.child !== undefined ? ` child p${e.child}` : ''}`).sort().join(', ') || '(none)';

export function stepTable(c: Case, trace: Trace, opts: { profile?: string } = {}): StepRow[] {
  const pred = predict(c, c.ops.map((_, i) => trace.steps.find((s) => s.op === i)), opts.profile ? { profile: opts.profile } : {});
  return trace.steps.map((s) => {
    const p = pred.steps[s.op];
    const regions: RegionRows[] = [];
    let mismatches = 0;
    for (const [proc, rs] of Object.entries(s.pages ?? {})) {
      for (const [region, strs] of Object.entries(rs)) {
        const runs = fold(own(own(p?.pages, proc), region), strs, '(none)');
        mismatches += runs.reduce((n, r) => n + (r.diff.length ? r.last - r.first + 1 : 0), 0);
        regions.push({ proc, region, kind: 'pagemap', runs });
      }
    }
    for (const [proc, rs] of Object.entries(s.scan ?? {})) {
      for (const [region, strs] of Object.entries(rs)) {
        const runs = fold(own(own(p?.scan, proc), region), strs, '---------');
        mismatches += runs.reduce((n, r) => n + (r.diff.length ? r.last - r.first + 1 : 0), 0);
        regions.push({ proc, region, kind: 'scan', runs });
      }
    }
    const rcE = p ? String(p.rc) : '(no such op)';
    const rcDiff = rcE !== '*' && rcE !== String(s.rc);
    const events = s.events && p ? { expected: ev(p.events), actual: ev(s.events), diff: ev(p.events) !== ev(s.events) } : undefined;
    if (rcDiff) mismatches++;
    if (events?.diff) mismatches++;
    const op = c.ops[s.op];
    return {
      step: s.op, op: op ? formatOp(op) : '?', rc: { expected: rcE, actual: clip(String(s.rc)), diff: rcDiff },
      ...(s.skipped ? { skipped: s.skipped } : {}), ...(events ? { events } : {}), regions, mismatches,
    };
  });
}
