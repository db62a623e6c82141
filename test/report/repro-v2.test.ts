// The C reproducer exporter and ptefarm-case/2: guard/unguard become MADV_GUARD_INSTALL (102) /
// MADV_GUARD_REMOVE (103) blocks, a /2 case's pages carry the seventh letter G (pagemap bit 58), and
// a scan passes PAGEMAP_SCAN's /2 arguments with the uapi bit values (include/uapi/linux/fs.h
// PAGE_IS_*, PM_SCAN_*), no output vector for no_vec, and the model's walk_end. An op it cannot
// express is still refused by name; a /2-format case that uses nothing of /2 stays a /1 program.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateRepro, itemRanges, ReproError } from '../../src/report/repro.ts';
import { parseTextCase } from '../../src/ops/text.ts';
import { predict } from '../../src/model/model.ts';
import type { Case } from '../../src/ops/schema.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const steps = (src: string) => src.slice(src.indexOf('static void case_steps(void) {')).split(/^ {2}end_step\([^)]*\);$/m);

describe('repro of ptefarm-case/2 cases', () => {
  it('guard and unguard are madvise blocks with the uapi advice values, defined by hand (headers are older)', () => {
    const src = generateRepro(parseTextCase('ptefarm-case/2\nmmap a pages=4 kind=anon\nguard a[1..3)\nunguard a[2]\n'));
    // include/uapi/asm-generic/mman-common.h: MADV_GUARD_INSTALL 102, MADV_GUARD_REMOVE 103
    expect(src).toContain('#define MADV_GUARD_INSTALL 102\n');
    expect(src).toContain('#define MADV_GUARD_REMOVE 103\n');
    const s = steps(src);
    expect(s[1]).toContain('if (in_proc(1, 0, "guard a[1..3)")) done(madvise((void *)0x200000001000, 2 * PG, MADV_GUARD_INSTALL));');
    expect(s[2]).toContain('if (in_proc(2, 0, "unguard a[2]")) done(madvise((void *)0x200000002000, 1 * PG, MADV_GUARD_REMOVE));');
    expect(src).toMatch(/NEEDS_GUARD = 1/);
  });

  it('a /2 case states seven letters per page, the model\'s, G included', () => {
    const c = parseTextCase('ptefarm-case/2\nmmap a pages=2 kind=anon\nwrite a\nguard a[1]\ndontneed a\n');
    const src = generateRepro(c);
    expect(src).toMatch(/LETTERS = 7/);
    const pred = predict(c);
    expect(pred.steps[2].pages['0'].a[1]).toMatch(/^.{6}G$/); // the model puts a guard marker there (R-GRD-1)
    for (const [i, s] of steps(src).slice(0, -1).entries()) {
      const strs = pred.steps[i].pages['0']?.a;
      if (i === 0 || strs?.join() !== pred.steps[i - 1].pages['0']?.a?.join()) expect(s, `step ${i}`).toContain(`want(0, "a", 0x200000000000, 2, "${itemRanges(strs)}");`);
    }
  });

  it('a touch of a guard page expects the SIGSEGV the model predicts (the runtime turns it into the step\'s rc)', () => {
    const c = parseTextCase('ptefarm-case/2\nmmap a pages=2 kind=anon\nguard a[1]\nread a\n');
    expect(String(predict(c).steps[2].rc)).toBe('SIGSEGV');
    expect(generateRepro(c)).toContain('end_step("SIGSEGV");');
  });

  it('the /2 scan arguments reach the ioctl with the uapi bit values the executor uses', () => {
    const c = parseTextCase('ptefarm-case/2\nmmap a pages=4 kind=anon\nwrite a[0..2)\nscan a wp_matching check_wpasync=false category_mask=w category_inverted=p category_anyof_mask=ps return_mask=wp max_pages=1\n');
    const src = generateRepro(c);
    const s = steps(src)[2];
    expect(s).toContain('sa = (struct pf_pm_scan_arg){ .size = sizeof sa, .start = 0x200000000000, .end = 0x200000004000,');
    expect(s).toContain('.vec = (uintptr_t)vec, .vec_len = 5, .max_pages = 1, .flags = PM_SCAN_WP_MATCHING, .category_mask = PAGE_IS_WRITTEN, .category_inverted = PAGE_IS_PRESENT, .category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED, .return_mask = PAGE_IS_WRITTEN | PAGE_IS_PRESENT };');
    expect(s).toMatch(/^ {2}if \(in_proc\(2, 0, "scan a [^"]*"\)\) done\(nvec = ioctl\(pagemap\[0\], PF_PAGEMAP_SCAN, &sa\)\);$/m);
    // the names carry the kernel's values: the executor's header defines the same (workers/executor/ptefarm-uapi.h)
    const uapi = readFileSync(join(root, 'workers/executor/ptefarm-uapi.h'), 'utf8');
    const enumLine = src.split('\n').find((l) => l.includes('PM_SCAN_WP_MATCHING = '))!;
    for (const m of enumLine.matchAll(/(PAGE_IS_\w+) = 1 << (\d)/g)) expect(uapi, m[1]).toContain(`#define ${m[1]} (1ULL << ${m[2]})`);
    // include/uapi/linux/fs.h: PM_SCAN_WP_MATCHING (1 << 0), PM_SCAN_CHECK_WPASYNC (1 << 1)
    expect(enumLine).toMatch(/PM_SCAN_WP_MATCHING = 1, PM_SCAN_CHECK_WPASYNC = 2/);
    // the model's walk_end and reported categories (return_mask honoured), stated after the call
    const pred = predict(c).steps[2];
    expect(pred.walkEnd).toBeDefined();
    expect(s).toContain(`want_walk("a", 0x200000000000, ${pred.walkEnd});`);
    expect(s).toContain(`want_scan(0, "a", "${itemRanges(pred.scan!['0'].a)}");`);
    for (const cats of pred.scan!['0'].a) expect(cats).toMatch(/^(-{9}|\.[w.]\.[p.]\.{5})$/);
  });

  it('no_vec: vec = 0, vec_len = 0, only the return value and walk_end are checked', () => {
    const c = parseTextCase('ptefarm-case/2\nmmap a pages=2 kind=anon\nscan a no_vec return_mask=w\n');
    const src = generateRepro(c), s = steps(src)[1];
    expect(s).toContain('.vec = 0, .vec_len = 0, .max_pages = 0, .return_mask = PAGE_IS_WRITTEN };');
    expect(s).not.toContain('want_scan(');
    expect(predict(c).steps[1].scan).toBeUndefined();
    expect(src).toContain(`  want_walk("a", 0x200000000000, ${predict(c).steps[1].walkEnd});\n  end_step("0");`);
  });

  it('a /2 scan with the defaults passes check_wpasync with wp_matching and every category the kernel knows (R-PMS-11: GUARD only from 6.15)', () => {
    const src = generateRepro(parseTextCase('ptefarm-case/2\nmmap a pages=2 kind=anon\nguard a[1]\nscan a wp_matching\n'));
    expect(src).toContain('.flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC, .category_mask = PAGE_IS_WRITTEN, .return_mask = scan_cats };');
    const scanOnly = generateRepro(parseTextCase('ptefarm-case/2\nmmap a pages=2 kind=anon\nscan a return_mask=w\n'));
    expect(scanOnly).toMatch(/NEEDS_GUARD = 0/); // without GUARD anywhere it runs before 6.15, G masked
    // no return_mask: the kernel's own categories (scan_cats), so a 6.12 kernel runs it too
    expect(generateRepro(parseTextCase('ptefarm-case/2\nmmap a pages=2 kind=anon\nscan a no_vec\n'))).toMatch(/NEEDS_GUARD = 0/);
    expect(generateRepro(parseTextCase('ptefarm-case/2\nmmap a pages=2 kind=anon\nscan a return_mask=g\n'))).toMatch(/NEEDS_GUARD = 1/);
  });

  it('still refuses an op it cannot express, by name, in a /2 case', () => {
    const c = { format: 'ptefarm-case/2', ops: [{ op: 'mmap', region: 'a', pages: 1, kind: 'anon' }, { op: 'guard', region: 'a' }, { op: 'ksm_merge', region: 'a' }] } as unknown as Case;
    expect(() => generateRepro(c)).toThrow(ReproError);
    expect(() => generateRepro(c)).toThrow(/op 2 \(ksm_merge\): the C reproducer cannot express "ksm_merge" yet/);
  });

  it('exports a /2-format case that uses nothing of /2 with six-letter expectations and the /1 scan', () => {
    const c = parseTextCase('ptefarm-case/2\nmmap a pages=2 kind=anon\nwrite a\nscan a max_pages=1\n');
    const src = generateRepro(c);
    expect(src).toMatch(/int main/);
    expect(src).toMatch(/LETTERS = 6/);
    expect(src).not.toMatch(/P\.\.E\.[D?.][G.]/);
    expect(src).not.toContain('want_walk(');
    expect(src).toContain('.return_mask = scan_cats');
  });
});
