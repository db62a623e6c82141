// The C reproducer exporter and ptefarm-case/2: a guard op or a /2 scan argument is refused with a
// ReproError naming the op and what it cannot express, never a crash or a wrong program; a /2 case
// without them still exports.
import { describe, expect, it } from 'vitest';
import { generateRepro, ReproError } from '../../src/report/repro.ts';
import { parseTextCase } from '../../src/ops/text.ts';

describe('repro of ptefarm-case/2 cases', () => {
  it('refuses a guard op by name', () => {
    const c = parseTextCase('ptefarm-case/2\nmmap a pages=2 kind=anon\nguard a[1]\n');
    expect(() => generateRepro(c)).toThrow(ReproError);
    expect(() => generateRepro(c)).toThrow(/op 1 \(guard\): the C reproducer cannot express "guard" yet/);
  });
  it('refuses /2 scan arguments, naming them', () => {
    const c = parseTextCase('ptefarm-case/2\nmmap a pages=2 kind=anon\nscan a no_vec return_mask=w\n');
    expect(() => generateRepro(c)).toThrow(/op 1 \(scan\): the C reproducer cannot express the ptefarm-case\/2 scan arguments no_vec, return_mask yet/);
  });
  it('exports a /2-format case that uses nothing of /2 with six-letter expectations (what the C runtime compares)', () => {
    const c = parseTextCase('ptefarm-case/2\nmmap a pages=2 kind=anon\nwrite a\nscan a max_pages=1\n');
    const src = generateRepro(c);
    expect(src).toMatch(/int main/);
    expect(src).not.toMatch(/P\.\.E\.[D?.][G.]/);
  });
});
