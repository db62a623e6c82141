// Test helper for the live target's scenario tests (test/targets/live-content, live-guard,
// live-hugetlb): one LiveTarget per test file, and `run`, which parses a case in the text form,
// executes it on the real kernel and requires a valid trace, no fault and no violation against the
// reference model before the test reads the kernel's own answer out of the trace.
import { afterAll, beforeAll, expect } from 'vitest';
import { existsSync } from 'node:fs';
import { LiveTarget } from '../../src/targets/live.ts';
import { DEFAULT_EXECUTOR } from '../../src/targets/probe.ts';
import { parseTextCase } from '../../src/ops/text.ts';
import { checkTrace, type Verdict } from '../../src/check/check.ts';
import { traceSchema, type Trace } from '../../src/ops/trace.ts';

export interface LiveRun { tr: Trace; verdict: Verdict }

/** `format`: the case format line (ptefarm-case/2 or /3); `body`: one op per line, indentation ignored */
export function liveTextRunner(format: string, o: { noSkip?: boolean } = {}): (body: string, uffd?: string) => Promise<LiveRun> {
  if (!existsSync(DEFAULT_EXECUTOR)) throw new Error(`native executor not built: run \`make -C workers/executor\` (${DEFAULT_EXECUTOR})`);
  let t: LiveTarget;
  beforeAll(() => { t = new LiveTarget(); });
  afterAll(async () => { await t.close(); });
  return async (body, uffd) => {
    const c = parseTextCase(`${format}\n${uffd !== undefined ? `uffd features=${uffd}\n` : ''}${body.trim().split('\n').map((l) => l.trim()).join('\n')}\n`);
    const tr = await t.execute(c);
    expect(traceSchema.safeParse(tr).success).toBe(true);
    expect(tr.fault).toBeUndefined();
    if (o.noSkip) expect(tr.skipped).toBeUndefined();
    const verdict = checkTrace(c, tr);
    expect(verdict.violations.map((x) => x.message)).toEqual([]);
    return { tr, verdict };
  };
}
