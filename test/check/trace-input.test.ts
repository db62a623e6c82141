// A trace that does not fit its case is bad input (exit 2, a message naming the field), never
// "ok" and never a kernel violation; a trace with a fault is never "ok" (issue 18 item 10).
// case-format.md: one step per op, in order; page strings are six slots P S F E W D, each its
// letter, `.` or `?`; scan strings nine slots a w f p s z h d g, each its letter or `.`, or
// `---------` for a page not reported.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkTrace } from '../../src/check/check.ts';
import { parseCase } from '../../src/ops/validate.ts';
import { TraceError, traceSchema, type Trace } from '../../src/ops/trace.ts';
import { ModelTarget } from '../../src/targets/model.ts';
import { formatVerdict } from '../../src/cli/commands/check.ts';

const c = parseCase({
  format: 'ptefarm-case/1',
  ops: [
    { op: 'mmap', region: 'a', pages: 2, kind: 'anon' },
    { op: 'write', region: 'a', first: 0, count: 1 },
    { op: 'scan', region: 'a' },
  ],
});
const good = () => JSON.parse(JSON.stringify(new ModelTarget('model:x86').executeSync(c))) as Trace;

const problemsOf = (f: () => unknown): string => {
  try { f(); } catch (e) { expect(e).toBeInstanceOf(TraceError); return (e as Error).message; }
  throw new Error('no TraceError');
};
const schemaIssues = (t: unknown) => {
  const r = traceSchema.safeParse(t);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('trace input', () => {
  it('the model trace of the case is ok (the baseline the mutations below start from)', () => {
    expect(schemaIssues(good())).toEqual([]);
    expect(checkTrace(c, good()).ok).toBe(true);
  });

  it('steps: [] and fewer steps than ops without a fault are bad input, not "ok: 0 bits compared"', () => {
    expect(problemsOf(() => checkTrace(c, { ...good(), steps: [] }))).toMatch(/steps: 0 step\(s\) for 3 op\(s\) and no fault.*missing: ops 0, 1, 2/);
    const t = good();
    t.steps.pop();
    expect(problemsOf(() => checkTrace(c, t))).toMatch(/steps: 2 step\(s\) for 3 op\(s\).*missing: ops 2/);
  });

  it('a step for an op the case lacks, or a repeated / out-of-order step, is bad input, not a violation', () => {
    const t = good();
    t.steps.push({ ...t.steps[2], op: 7 });
    expect(problemsOf(() => checkTrace(c, t))).toMatch(/steps\[3\]\.op: the case has no op 7 \(its ops are 0\.\.2\)/);
    const d = good();
    d.steps[2] = { ...d.steps[1] };
    expect(problemsOf(() => checkTrace(c, d))).toMatch(/steps\[2\]\.op: op 1 after op 1/);
  });

  it('page strings with letters in the wrong slots are rejected by the schema and by the check', () => {
    for (const bad of ['D..E.P', 'SP....', 'P.....x', 'PSFEW', 'p.....', '......?.', 'P-....']) {
      const t = good();
      t.steps[1].pages!['0'].a[0] = bad;
      expect(schemaIssues(t).join('\n'), bad).toMatch(/steps\.1\.pages\.0\.a\.0: six or seven characters/);
      expect(problemsOf(() => checkTrace(c, t)), bad).toMatch(/steps\[1\]\.pages\.0\.a\[0\]: .* is not a PSFEWD\(G\) page string/);
    }
    for (const ok of ['PSFEWD', '??????', '......', 'P..E.?']) {
      const t = good();
      t.steps[1].pages!['0'].a[0] = ok;
      expect(schemaIssues(t), ok).toEqual([]);
    }
  });

  it('scan strings: each slot its own letter or ., or a whole page of -', () => {
    const t0 = good();
    expect(t0.steps[2].scan!['0'].a).toHaveLength(2);
    for (const bad of ['w........', '.a.......', 'a-.......', '-', 'awfpszhdgx', '?........']) {
      const t = good();
      t.steps[2].scan!['0'].a[0] = bad;
      expect(schemaIssues(t).join('\n'), bad).toMatch(/steps\.2\.scan\.0\.a\.0: nine characters/);
      expect(problemsOf(() => checkTrace(c, t)), bad).toMatch(/steps\[2\]\.scan\.0\.a\[0\]/);
    }
    for (const ok of ['---------', 'awfpszhdg', '.........']) {
      const t = good();
      t.steps[2].scan!['0'].a[0] = ok;
      expect(schemaIssues(t), ok).toEqual([]);
    }
  });

  it('fault: "" is rejected by the schema; given in process it is a fault, never "no fault"', () => {
    expect(schemaIssues({ ...good(), fault: '' }).join('\n')).toMatch(/fault: an empty fault/);
    expect(schemaIssues({ ...good(), skipped: '' }).join('\n')).toMatch(/skipped: an empty skip reason/);
    const v = checkTrace(c, { ...good(), fault: '' });
    expect(v.ok).toBe(false);
    expect(v.fault).toBeDefined();
  });

  it('a skipped trace with steps, and outcome or event pages past the page limit, are bad input', () => {
    expect(problemsOf(() => checkTrace(c, { ...good(), skipped: 'no uffd here' }))).toMatch(/steps: a skipped trace \(not run: "no uffd here"\) has no steps, this one has 3/);
    expect(checkTrace(c, { ...good(), steps: [], skipped: 'no uffd here' }).skipped).toBe('no uffd here');
    const t = good();
    t.steps[1].outcome = { huge: { a: [1e300] } };
    expect(schemaIssues(t).join('\n')).toMatch(/steps\.1\.outcome\.huge\.a\.0: /);
    const e = good();
    e.steps[1].events = [{ kind: 'wp_fault', proc: 1e9, region: 'a', page: -1 }];
    expect(schemaIssues(e).join('\n')).toMatch(/steps\.1\.events\.0\.proc: [^]*steps\.1\.events\.0\.page: /);
  });

  it('a malformed `resident` outcome (a fault\'s whole shmem swap-in) is bad input, from a file (schema) or in process (TraceError), never a violation', () => {
    for (const bad of [{ a: [-1] }, { a: [1e300] }, { a: ['0'] }, { a: 0 }, { a: [[0, 0]] }, { a: [[0]] }, { a: [[3, -2]] }, { a: [[0, 1, 2]] }, { a: [[1e300, 1]] }]) {
      const t = good();
      (t.steps[1].outcome as Record<string, unknown>) = { resident: bad };
      expect(schemaIssues(t).join('\n')).toMatch(/steps\.1\.outcome\.resident\.a/);
      expect(problemsOf(() => checkTrace(c, t))).toMatch(/steps\[1\]\.outcome\.resident\.a: a list of \[first, pages\] runs/);
    }
    const t = good();
    (t.steps[1].outcome as Record<string, unknown>) = { resident: 'a' };
    expect(problemsOf(() => checkTrace(c, t))).toMatch(/steps\[1\]\.outcome\.resident: a record of region -> \[first, pages\] runs/);
    // well formed: read, and here (an anon region, nothing swapped) it changes nothing
    // (runs, and the older form: 2 MiB block first pages)
    for (const resident of [{ a: [0] }, { a: [[0, 1], [5, 3]] }, { a: [0, [2, 1]] }] as Record<string, (number | [number, number])[]>[]) {
      const ok = good();
      ok.steps[1].outcome = { ...ok.steps[1].outcome, resident };
      expect(schemaIssues(ok)).toEqual([]);
      expect(checkTrace(c, ok).ok).toBe(true);
    }
  });

  it('PAGEMAP_SCAN results only for the scan op, its process and region; capability names are names (found by the chaos suite)', () => {
    const t = good();
    const strs = t.steps[2].scan!['0'].a;
    delete t.steps[2].scan!['0'].a;
    Object.defineProperty(t.steps[2].scan!['0'], '__proto__', { value: strs.map(() => '---------'), enumerable: true });
    expect(problemsOf(() => checkTrace(c, t))).toMatch(/steps\[2\]\.scan\.0\.__proto__: the op scans 0\.a only/);
    const w = good();
    w.steps[1].scan = { 0: { a: ['---------', '---------'] } };
    expect(problemsOf(() => checkTrace(c, w))).toMatch(/steps\[1\]\.scan\.0\.a: op 1 \(write\) is not a scan/);
    const k = good() as unknown as { target: { capabilities: Record<string, boolean> } };
    k.target.capabilities['x'.repeat(100_000)] = true;
    expect(schemaIssues(k).join('\n')).toMatch(/target\.capabilities\.x+: bad key: a capability name/);
  });

  it('a trace with an executor fault is never ok, and never printed as "ok"', () => {
    const t = good();
    t.steps.pop();
    t.fault = 'supervisor killed by SIGKILL';
    const v = checkTrace(c, t);
    expect(v.ok).toBe(false);
    expect(v.violations).toEqual([]);
    expect(formatVerdict(v)).not.toMatch(/\bok\b/);
    expect(formatVerdict(v)).toMatch(/executor fault \(no verdict\): supervisor killed by SIGKILL/);
  });

  it('ptefarm check --trace: steps: [] exits 2 naming steps; a faulted trace exits 2 without "ok"', () => {
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const dir = mkdtempSync(join(tmpdir(), 'ptefarm-trace-input-'));
    writeFileSync(join(dir, 'c.json'), JSON.stringify(c));
    writeFileSync(join(dir, 'empty.json'), JSON.stringify({ ...good(), steps: [] }));
    const faulted = good();
    faulted.steps.pop();
    faulted.fault = 'timeout: the case did not finish within 10000 ms';
    writeFileSync(join(dir, 'faulted.json'), JSON.stringify(faulted));
    const cli = (...args: string[]) => spawnSync(process.execPath, [join(root, 'bin/ptefarm.mjs'), ...args], { encoding: 'utf8', cwd: root });
    const e = cli('check', '--trace', join(dir, 'empty.json'), join(dir, 'c.json'));
    expect(e.status, e.stdout + e.stderr).toBe(2);
    expect(e.stderr).toMatch(/invalid trace:\n\s+steps: 0 step\(s\) for 3 op\(s\)/);
    expect(e.stdout).not.toMatch(/ok/);
    const f = cli('check', '--trace', join(dir, 'faulted.json'), join(dir, 'c.json'));
    expect(f.status, f.stdout + f.stderr).toBe(2);
    expect(f.stdout).toMatch(/executor fault/);
    expect(f.stdout).not.toMatch(/\bok\b/);
  }, 60_000);
});
