// Bad requests to the native executor (workers/executor/ptefarm-exec.c), spoken to directly as an
// `exec:`/`serve` peer or a forged line could: region ids and process numbers out of range or
// negative, page ranges whose sum wraps, counts of numbers that do not fit the op, a case that
// announces more op lines than it sends. Each must be answered with a `bad request` fault line,
// nothing of the case run, and the same executor must serve the next case (issue 18, item 8).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARENA_BASE_PAGE, executorMissing, RawExecutor } from '../helpers/executor.ts';

const missing = executorMissing();
if (missing) console.warn(`skipping executor request tests: ${missing}`);

const B = ARENA_BASE_PAGE;
const MMAP4 = `1 0 0 ${B} 4 0 0`; // process 0 maps region id 0: 4 anonymous pages at the arena start
const GOOD = [MMAP4, '6 0 0 0 4']; // and writes them

describe.skipIf(missing)('executor: bad requests are refused, and the next case runs', () => {
  let ex: RawExecutor;
  beforeAll(async () => {
    ex = new RawExecutor();
    await ex.until((l) => l.startsWith('ready '));
  });
  afterAll(async () => { await ex?.close(); });

  let seq = 0;
  /** the reply of a bad case, then a good case on the same executor */
  async function refused(ops: string[], header?: string): Promise<string[]> {
    const id = `bad${seq++}`;
    let reply: string[];
    if (header !== undefined) {
      ex.send(`case ${id} ${header}\n${ops.map((o) => `${o}\n`).join('')}`);
      reply = await ex.reply(id);
    } else {
      reply = await ex.runCase(id, ops, { timeoutMs: 5000 });
    }
    const good = await ex.runCase(`good${seq++}`, GOOD, { timeoutMs: 5000 });
    expect(good, 'the next case runs').toContain('x');
    expect(good.filter((l) => l.startsWith('f '))).toEqual([]);
    expect(good).toContain('p 0 0 J4'); // P and E for every written page (bits 0 and 3)
    return reply;
  }

  /** statically bad: refused before anything runs */
  const staticBad: [string, string[]][] = [
    ['a negative region id in mmap (a NULL region)', [`1 0 -1 ${B} 4 0 0`]],
    ['a negative region id in write', [MMAP4, '6 0 -1 0 1']],
    ['a region id past the table', [MMAP4, '6 0 128 0 1']],
    ['a process number that wraps to 0 as an int', [MMAP4, '6 4294967296 0 0 1']],
    ['a negative process number', [MMAP4, '6 -1 0 0 1']],
    ['a count of -1 (first + count wraps to a small number)', [MMAP4, '6 0 0 2 -1']],
    ['a first page of -1 (first + count wraps)', [MMAP4, '6 0 0 -1 2']],
    ['a count of 2^32 pages', [MMAP4, '6 0 0 0 4294967296']],
    ['an mmap outside the arena (page 0)', ['1 0 0 0 4 0 0']],
    ['an mmap of an unknown kind (6: kinds are 0..5, 4 and 5 hugetlb)', [`1 0 0 ${B} 4 6 0`]],
    ['an mmap past the hugetlb arena (64 TiB)', [`1 0 0 ${0x400000000000 / 4096} 512 4 0`]],
    ['an mmap with a start page that overflows the address', ['1 0 0 4503599627370496 4 0 0']],
    ['an unknown op code', [MMAP4, '99 0 0 0 1']],
    ['too few numbers for the op', [MMAP4, '6 0 0']],
    ['too many numbers for the op', [MMAP4, '7 0 5']],
    ['a split page of -1', [MMAP4, '13 0 0 -1']],
    ['an mremap to a new start outside the arena', [MMAP4, '3 0 0 4 1 0 -1 0 1']],
    ['an mprotect with an unknown protection', [MMAP4, '4 0 0 0 1 7']],
  ];
  for (const [what, ops] of staticBad) {
    it(what, async () => {
      const reply = await refused(ops);
      expect(reply.find((l) => l.startsWith('f '))).toMatch(/^f bad request: /);
      expect(reply.filter((l) => l.startsWith('s ')), 'nothing of the case ran').toEqual([]);
    });
  }

  it('a range past the region (checked against its size when the op runs)', async () => {
    const reply = await refused([MMAP4, '6 0 0 3 2']);
    expect(reply.filter((l) => l.startsWith('s '))).toEqual(['s 0 0']);
    expect(reply.find((l) => l.startsWith('f '))).toMatch(/^f bad request: op 1: pages 3 \+ 2 outside the region of 4 pages/);
  });

  it('a range starting past the region end, whose count would bring the sum back in range', async () => {
    const reply = await refused([MMAP4, '6 0 0 1024 0']);
    expect(reply.filter((l) => l.startsWith('s '))).toEqual(['s 0 0']);
    expect(reply.find((l) => l.startsWith('f '))).toMatch(/^f bad request: op 1: pages 1024 \+ 0 outside/);
  });

  it('a header with an op count that wraps to 1 as an int (its op lines are skipped, not run)', async () => {
    const reply = await refused([MMAP4, '6 0 0 0 4'], '4294967297 -1 5000');
    expect(reply).toEqual(['f bad request: 4294967297 ops (limit 256)']);
  });

  it('a negative or absurd timeout, unknown userfaultfd features, a half inject', async () => {
    expect(await refused(GOOD, '2 -1 -5')).toEqual(['f bad request: timeout -5 ms outside 1..3600000']);
    expect(await refused(GOOD, '2 -1 99999999999')).toEqual(['f bad request: timeout 99999999999 ms outside 1..3600000']);
    expect((await refused(GOOD, '2 -7 5000'))[0]).toMatch(/^f bad request: userfaultfd features -7/);
    expect((await refused(GOOD, '2 -1 5000 1'))[0]).toMatch(/^f bad request: bad case header/);
  });

  it('a case announcing more op lines than it sends does not swallow the next request', async () => {
    ex.send(`case short 3 -1 5000\n${MMAP4}\ncase after-short 2 -1 5000\n${GOOD.join('\n')}\n`);
    expect(await ex.reply('short')).toEqual(['f bad request: the case announced 3 op lines but sent 1']);
    expect(await ex.reply('after-short')).toContain('x');
  });

  it('garbage between cases gets an error line each and changes nothing', async () => {
    ex.send(`hello\n6 0 0 0 4\n${'9'.repeat(10_000)}\n\u0001\u0002\n`);
    expect(await ex.until((l) => l.startsWith('error '))).toBe('error unknown request: hello');
    expect(await ex.until((l) => l.startsWith('error '))).toBe('error op line outside a case: 6 0 0 0 4');
    expect(await ex.until((l) => l.startsWith('error '))).toMatch(/^error request longer than \d+ bytes$/);
    expect(await ex.until((l) => l.startsWith('error '))).toBe('error unknown request: ??');
    const good = await ex.runCase('after-garbage', GOOD, { timeoutMs: 5000 });
    expect(good).toContain('x');
    expect(ex.exited).toBe(false);
  });
});
