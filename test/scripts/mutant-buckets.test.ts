// scripts/mutant-buckets.ts: a mutant's campaign buckets, and the offline re-bucketing of its
// dumped failing cases, which must give the same buckets with the same hits (what makes a
// before/after histogram over the same cases trustworthy).
import { createWriteStream, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mutantBuckets, rebucket } from '../../scripts/mutant-buckets.ts';

describe('mutant bucket histogram', () => {
  it('re-bucketing the dump of a campaign gives the campaign\'s own buckets', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ptefarm-mb-'));
    const file = join(dir, 'B-5.jsonl');
    const dump = createWriteStream(file);
    const live = await mutantBuckets('B-5', 300, 1, dump);
    await new Promise<void>((r) => dump.end(r));
    expect(live.failing).toBeGreaterThan(0);
    expect(live.buckets).toBe(Object.keys(live.signatures).length);
    const again = rebucket(file, 'B-5');
    expect(again.failing).toBe(live.failing);
    expect(again.signatures).toEqual(live.signatures);
  }, 300_000);
});
