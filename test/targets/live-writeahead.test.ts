// The live target writes a queued case to the executor ahead of its turn (src/targets/live.ts
// writeAhead): the executor reads requests in order, so it starts the next case the moment the one
// before ends instead of idling until the thread that runs the target (busy checking the previous
// case) reads the reply. Pinned here by the order of what the target writes and reads, not by time;
// and a case written ahead to an executor that died is sent again to its successor.
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { LiveTarget } from '../../src/targets/live.ts';
import { DEFAULT_EXECUTOR } from '../../src/targets/probe.ts';
import { parseCase } from '../../src/ops/validate.ts';
import type { Trace } from '../../src/ops/trace.ts';

if (!existsSync(DEFAULT_EXECUTOR)) throw new Error(`native executor not built: run \`make -C workers/executor\` (${DEFAULT_EXECUTOR})`);

const small = parseCase({ format: 'ptefarm-case/1', ops: [{ op: 'mmap', region: 'a', pages: 1, kind: 'anon' }, { op: 'write', region: 'a' }] });
const pg = (tr: Trace, i: number) => tr.steps[i].pages?.['0']?.['a']?.map((s) => s.slice(0, 5));

/** the executor process of `lt` with its writes and reply reads logged in `log` */
function spy(lt: LiveTarget, log: string[]): void {
  const p = (lt as unknown as { proc: { send(t: string): void; block(end: string, ms: number): Promise<unknown> } }).proc;
  const send = p.send.bind(p);
  const block = p.block.bind(p);
  p.send = (t) => { log.push(`send ${/^case (\S+)/.exec(t)?.[1]}`); send(t); };
  p.block = async (end, ms) => { const r = await block(end, ms); log.push(`read ${end.slice(4)}`); return r; };
}

describe('live target: cases written ahead', () => {
  it('the second of two queued cases is written before the first one\'s reply is read', async () => {
    const lt = new LiveTarget();
    try {
      await lt.execute(small); // the executor is running
      const log: string[] = [];
      spy(lt, log);
      const [a, b] = await Promise.all([lt.execute(small), lt.execute(small)]);
      const [sa, sb] = log.filter((l) => l.startsWith('send')).map((l) => l.slice(5));
      expect(log).toEqual([`send ${sa}`, `send ${sb}`, `read ${sa}`, `read ${sb}`]);
      for (const tr of [a, b]) {
        expect(tr.fault).toBeUndefined();
        expect(pg(tr, 1)).toEqual(['P..E.']);
      }
    } finally { await lt.close(); }
  });

  it('a case written ahead to an executor that dies runs on the next one, once', async () => {
    const lt2 = new LiveTarget({ caseTimeoutMs: 20_000 });
    try {
      await lt2.execute(small);
      const log: string[] = [];
      spy(lt2, log);
      (lt2.opts as { inject?: unknown }).inject = { kind: 'hang', op: 1 };
      const first = lt2.execute(small);
      const second = lt2.execute(small); // written ahead, behind the hanging case
      await new Promise((r) => setTimeout(r, 300));
      expect(log.filter((l) => l.startsWith('send'))).toHaveLength(2);
      (lt2.opts as { inject?: unknown }).inject = undefined;
      process.kill(lt2.pid!, 'SIGKILL');
      const a = await first;
      const b = await second;
      expect(a.fault).toMatch(/executor .*SIGKILL/);
      expect(b.fault).toBeUndefined();
      expect(pg(b, 1)).toEqual(['P..E.']);
      expect(lt2.starts).toBe(2);
    } finally { await lt2.close(); }
  });
});
