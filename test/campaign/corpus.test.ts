import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Case } from '../../src/ops/schema.ts';
import { validateCase } from '../../src/ops/validate.ts';
import { loadCorpus, saveReproducer, signatureSlug } from '../../src/campaign/corpus.ts';

const mk = (n: number): Case => ({
  format: 'ptefarm-case/1',
  ops: [{ op: 'mmap', region: 'a', pages: 2, kind: 'anon' }, ...Array.from({ length: n - 1 }, () => ({ op: 'write' as const, region: 'a' }))],
});
const SIG = 'D|lost|R-CR-2|write|pte';

describe('corpus', () => {
  it('slugs are file-safe and distinct per signature', () => {
    expect(signatureSlug(SIG)).toMatch(/^[a-z0-9._-]+$/);
    expect(signatureSlug('a/b')).not.toBe(signatureSlug('a:b'));
  });

  it('writes a valid named case atomically and never overwrites a smaller one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ptefarm-corpus-'));
    const r1 = await saveReproducer(dir, SIG, mk(4), 'hits 3');
    expect(r1).toMatchObject({ written: true, reason: 'new' });
    const doc = JSON.parse(readFileSync(r1.path, 'utf8'));
    expect(validateCase(doc)).toEqual([]);
    expect(doc.name).toContain(SIG);
    expect((await saveReproducer(dir, SIG, mk(6))).written).toBe(false);
    expect((await saveReproducer(dir, SIG, mk(4))).written).toBe(false);
    expect(JSON.parse(readFileSync(r1.path, 'utf8')).ops.length).toBe(4);
    expect(await saveReproducer(dir, SIG, mk(2))).toMatchObject({ written: true, reason: 'smaller' });
    expect(JSON.parse(readFileSync(r1.path, 'utf8')).ops.length).toBe(2);
    // no temporary files left behind
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('concurrent saves of different sizes leave the smallest', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ptefarm-corpus-'));
    await Promise.all([7, 3, 5, 9, 4].map((n) => saveReproducer(dir, SIG, mk(n))));
    const files = readdirSync(dir);
    expect(files.filter((n) => n.endsWith('.json'))).toHaveLength(1);
    expect(JSON.parse(readFileSync(join(dir, files.find((n) => n.endsWith('.json'))!), 'utf8')).ops.length).toBe(3);
    expect(files.filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('replaces an invalid existing file, and loadCorpus reports unreadable files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ptefarm-corpus-'));
    writeFileSync(join(dir, `${signatureSlug(SIG)}.json`), '{ not json');
    expect((await saveReproducer(dir, SIG, mk(5))).written).toBe(true);
    writeFileSync(join(dir, 'broken.json'), '{"format":"ptefarm-case/1","ops":[{"op":"write","region":"zz"}]}');
    const entries = await loadCorpus([dir, join(dir, 'missing')]);
    expect(entries).toHaveLength(2);
    expect(entries.find((e) => e.path.endsWith('broken.json'))!.error).toMatch(/zz/);
    expect(entries.find((e) => !e.path.endsWith('broken.json'))!.case!.ops.length).toBe(5);
  });
});
