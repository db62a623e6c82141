import { describe, expect, it } from 'vitest';
import { CasePlan, NO_LIMITS, isLive, nameable, type PlanRegion, type RegionHooks } from '../../src/ops/plan.ts';
import { DEFAULT_LIMITS, SLOT_PAGES, slotStartPage } from '../../src/ops/layout.ts';
import { encodeCase } from '../../src/targets/executor/protocol.ts';
import type { Op } from '../../src/ops/schema.ts';

const mmap = (region: string, pages = 4, extra: Partial<Extract<Op, { op: 'mmap' }>> = {}): Op => ({ op: 'mmap', region, pages, kind: 'anon', ...extra });

/** a plan after `ops`, which must all be accepted */
function planOf(ops: Op[], opts: Partial<ConstructorParameters<typeof CasePlan>[0]> = {}): CasePlan {
  const plan = new CasePlan({ uffd: true, ...opts });
  ops.forEach((op, i) => expect(plan.step(op, i), `ops[${i}]`).toEqual([]));
  return plan;
}

const at = (plan: CasePlan, proc: number, name: string) => {
  const r = plan.regionOf(proc, name)!;
  return { start: r.start, pages: r.pages, unmapped: [...r.unmapped] };
};

describe('CasePlan: placement', () => {
  it('every mmap without `after` and every moving mremap takes the next slot', () => {
    const plan = planOf([mmap('a'), mmap('b', 2), { op: 'mremap', region: 'a' }, mmap('c')]);
    expect(plan.regionOf(0, 'b')!.start).toBe(slotStartPage(1));
    expect(plan.regionOf(0, 'a')!.start).toBe(slotStartPage(2));
    expect(plan.regionOf(0, 'c')!.start).toBe(slotStartPage(3));
    expect(plan.slot).toBe(4);
  });

  it('`after` places a region at the named region\'s current end, taking no slot', () => {
    const plan = planOf([mmap('a', 4), mmap('b', 2, { after: 'a' }), mmap('c', 1)]);
    expect(plan.regionOf(0, 'b')!.start).toBe(slotStartPage(0) + 4);
    expect(plan.regionOf(0, 'c')!.start).toBe(slotStartPage(1));
  });

  it('`after` a shrunk region uses its current end; an overlap is refused and changes nothing', () => {
    const plan = planOf([mmap('a', 4), mmap('b', 2, { after: 'a' }), { op: 'mremap', region: 'a', pages: 2, move: false }]);
    expect(plan.canPlaceAfter(0, 'a', 2)).toBe(true);
    expect(plan.canPlaceAfter(0, 'a', 3)).toBe(false);
    expect(plan.step(mmap('c', 3, { after: 'a' }), 3)).toEqual(['ops[3].after: placing "c" after "a" would overlap region "b"']);
    expect(plan.regionOf(0, 'c')).toBeUndefined();
    expect(plan.slot).toBe(1);
    expect(plan.step(mmap('c', 2, { after: 'a' }), 4)).toEqual([]);
    expect(plan.regionOf(0, 'c')!.start).toBe(slotStartPage(0) + 2);
  });

  it('a region follows the plan whatever the kernel does: slots are taken by every moving mremap', () => {
    // the plan never sees rc: a move that fails in the kernel still took its slot
    const plan = planOf([mmap('a'), { op: 'mremap', region: 'a' }, { op: 'mremap', region: 'a', pages: 8 }]);
    expect(at(plan, 0, 'a')).toEqual({ start: slotStartPage(2), pages: 8, unmapped: [0, 0, 0, 0, 0, 0, 0, 0] });
  });
});

describe('CasePlan: mremap', () => {
  it('a shrink cuts pages off, a grow adds mapped pages, unmapped pages move along', () => {
    const plan = planOf([mmap('a', 4), { op: 'munmap', region: 'a', first: 1, count: 1 },
      { op: 'mremap', region: 'a', pages: 2, move: false }]);
    expect(at(plan, 0, 'a')).toEqual({ start: slotStartPage(0), pages: 2, unmapped: [0, 1] });
    plan.step({ op: 'mremap', region: 'a', pages: 3 }, 3);
    expect(at(plan, 0, 'a')).toEqual({ start: slotStartPage(1), pages: 3, unmapped: [0, 1, 0] });
  });

  it('grow in place is blocked by a live region right after (the region keeps its size), not by a dead one', () => {
    const plan = planOf([mmap('a', 4), mmap('b', 2, { after: 'a' }), { op: 'mremap', region: 'a', pages: 6, move: false }]);
    expect(plan.regionOf(0, 'a')!.pages).toBe(4);
    expect(plan.growBlocked(0, 'a', 5)).toBe(true);
    expect(plan.growBlocked(0, 'a', 3)).toBe(false);
    plan.step({ op: 'munmap', region: 'b' }, 3);
    expect(plan.growBlocked(0, 'a', 6)).toBe(false);
    plan.step({ op: 'mremap', region: 'a', pages: 6, move: false }, 4);
    expect(plan.regionOf(0, 'a')!.pages).toBe(6);
  });

  it('grow in place past the slot is blocked', () => {
    const plan = planOf([mmap('a', 4)], { limits: NO_LIMITS });
    expect(plan.growBlocked(0, 'a', SLOT_PAGES)).toBe(false);
    expect(plan.growBlocked(0, 'a', SLOT_PAGES + 1)).toBe(true);
  });

  it('MREMAP_DONTUNMAP with `old`: the old range stays mapped under that name', () => {
    const plan = planOf([mmap('a', 4), { op: 'munmap', region: 'a', first: 3, count: 1 },
      { op: 'mremap', region: 'a', dontunmap: true, old: 'o' }]);
    expect(at(plan, 0, 'o')).toEqual({ start: slotStartPage(0), pages: 4, unmapped: [0, 0, 0, 1] });
    expect(at(plan, 0, 'a')).toEqual({ start: slotStartPage(1), pages: 4, unmapped: [0, 0, 0, 1] });
    expect(plan.liveRegions(0)).toEqual(['a', 'o']);
    expect(plan.namedCount(0)).toBe(2);
  });

  it('MREMAP_DONTUNMAP without `old`: the range left behind is occupied under an unnamable key', () => {
    const plan = planOf([mmap('x', 4), mmap('a', 2, { after: 'x' }), { op: 'mremap', region: 'a', dontunmap: true }]);
    const left = plan.regionOf(0, '(range left by ops[2])')!;
    expect(left.start).toBe(slotStartPage(0) + 4);
    expect(nameable('(range left by ops[2])')).toBe(false);
    // not offered, not counted, but still blocking
    expect(plan.liveRegions(0)).toEqual(['x', 'a']);
    expect(plan.namedCount(0)).toBe(2);
    expect(plan.growBlocked(0, 'x', 5)).toBe(true);
    expect(plan.step(mmap('c', 1, { after: 'x' }), 3)).toEqual(['ops[3].after: placing "c" after "x" would overlap region "(range left by ops[2])"']);
  });

  it('the live encoding sees the remnant too: a blocked grow is sent with apply=0', () => {
    const enc = encodeCase({ format: 'ptefarm-case/1', ops: [mmap('x', 4), mmap('a', 2, { after: 'x' }),
      { op: 'mremap', region: 'a', dontunmap: true }, { op: 'mremap', region: 'x', pages: 5, move: false }] });
    expect(enc.lines[3]!.split(' ').at(-1)).toBe('0');
    expect(enc.lines[0]).toBe(`1 0 0 ${slotStartPage(0)} 4 0 0`);
    expect(enc.lines[1]).toBe(`1 0 1 ${slotStartPage(0) + 4} 2 0 0`);
  });

  it('mremap messages', () => {
    const plan = planOf([mmap('a', 4), mmap('b', 4)], { limits: { ...DEFAULT_LIMITS, maxRegions: 2 } });
    expect(plan.step({ op: 'mremap', region: 'a', dontunmap: true, move: false }, 2)).toEqual(['ops[2].dontunmap: needs move (MREMAP_DONTUNMAP implies MREMAP_MAYMOVE)']);
    expect(plan.step({ op: 'mremap', region: 'a', dontunmap: true, pages: 5 }, 2)).toEqual(['ops[2].pages: with dontunmap the size cannot change (4 pages)']);
    expect(plan.step({ op: 'mremap', region: 'a', old: 'o' }, 2)).toEqual(['ops[2].old: only meaningful with dontunmap']);
    expect(plan.step({ op: 'mremap', region: 'a', dontunmap: true, old: 'b' }, 2)).toEqual(['ops[2].old: region "b" already exists']);
    expect(plan.step({ op: 'mremap', region: 'a', dontunmap: true, old: 'o' }, 2)).toEqual(['ops[2].old: more than 2 region names in the case (`old` names included)']);
    expect(plan.step({ op: 'mremap', region: 'a', dontunmap: true, old: 'a' }, 2)).toEqual(['ops[2].old: must differ from region']);
    expect(plan.step({ op: 'mremap', region: 'a', pages: 2000 }, 2)).toEqual(['ops[2].pages: 2000 exceeds the limit of 1024 pages per region']);
    // nothing above changed the plan
    expect(plan.slot).toBe(2);
    expect(at(plan, 0, 'a')).toEqual({ start: slotStartPage(0), pages: 4, unmapped: [0, 0, 0, 0] });
  });
});

describe('CasePlan: processes', () => {
  it('fork copies the parent\'s regions (remnants included); later changes stay in one process', () => {
    const plan = planOf([mmap('a', 4), { op: 'mremap', region: 'a', dontunmap: true }, { op: 'fork' },
      { op: 'munmap', region: 'a', first: 0, count: 1, proc: 1 }]);
    expect(plan.aliveProcs()).toEqual([0, 1]);
    expect([...plan.procs[1]!.regions.keys()]).toEqual(['a', '(range left by ops[1])']);
    expect(at(plan, 1, 'a').unmapped).toEqual([1, 0, 0, 0]);
    expect(at(plan, 0, 'a').unmapped).toEqual([0, 0, 0, 0]);
  });

  it('exit ends a process; its ops, and ops of processes that never existed, are problems', () => {
    const plan = planOf([mmap('a'), { op: 'fork' }, { op: 'exit', proc: 1 }]);
    expect(plan.aliveProcs()).toEqual([0]);
    expect(plan.liveRegions(1)).toEqual([]);
    expect(plan.step({ op: 'read', region: 'a', proc: 1 }, 3)).toEqual(['ops[3].proc: process 1 has exited']);
    expect(plan.step({ op: 'read', region: 'a', proc: 2 }, 3)).toEqual(['ops[3].proc: process 2 does not exist (processes so far: 0..1)']);
  });

  it('fork past the process limit', () => {
    const plan = planOf([{ op: 'fork' }], { limits: { ...DEFAULT_LIMITS, maxProcs: 2 } });
    expect(plan.step({ op: 'fork', proc: 1 }, 1)).toEqual(['ops[1].op: fork would exceed the limit of 2 processes']);
  });
});

describe('CasePlan: regions, ranges and limits', () => {
  it('messages for missing, dead and reused regions and for ranges', () => {
    const plan = planOf([mmap('a', 4), mmap('b', 2), { op: 'munmap', region: 'b' }]);
    expect(plan.step({ op: 'write', region: 'z' }, 3)).toEqual(['ops[3].region: region "z" does not exist in process 0']);
    expect(plan.step({ op: 'write', region: 'b' }, 3)).toEqual(['ops[3].region: region "b" is fully unmapped in process 0']);
    expect(plan.step(mmap('a'), 3)).toEqual(['ops[3].region: region "a" already exists in process 0 (only a fully unmapped name may be reused)']);
    expect(plan.step({ op: 'write', region: 'a', first: 4 }, 3)).toEqual(['ops[3].first: page 4 is outside region (4 pages)']);
    expect(plan.step({ op: 'write', region: 'a', first: 2, count: 3 }, 3)).toEqual(["ops[3].count: pages 2..4 run past the region's end (4 pages)"]);
    expect(plan.step({ op: 'split', region: 'a', page: 4 }, 3)).toEqual(['ops[3].page: page 4 is outside region "a" (4 pages)']);
    expect(plan.step(mmap('c', 2000), 3)).toEqual(['ops[3].pages: 2000 exceeds the limit of 1024 pages per region']);
    expect(plan.step(mmap('c', 1, { after: 'b' }), 3)).toEqual(['ops[3].region: region "b" is fully unmapped in process 0']);
    // a dead name may be reused, in a fresh slot
    expect(plan.step(mmap('b', 3), 3)).toEqual([]);
    expect(at(plan, 0, 'b')).toEqual({ start: slotStartPage(2), pages: 3, unmapped: [0, 0, 0] });
  });

  it('uffd ops need a uffd object', () => {
    const plan = planOf([mmap('a')], { uffd: false });
    expect(plan.step({ op: 'wp', region: 'a', on: true }, 1)).toEqual(['ops[1].op: wp needs a top-level "uffd" object (the case opens no userfaultfd)']);
    expect(plan.step({ op: 'scan', region: 'a' }, 1)).toEqual([]);
  });

  it('the region limit counts nameable regions (dead ones too), not dontunmap remnants', () => {
    const limits = { ...DEFAULT_LIMITS, maxRegions: 2 };
    const plan = planOf([mmap('a'), { op: 'mremap', region: 'a', dontunmap: true }, { op: 'munmap', region: 'a' }, mmap('b')], { limits });
    expect(plan.namedCount(0)).toBe(2);
    expect(plan.roomForName(0, 'a')).toBe(true);
    expect(plan.roomForName(0, 'c')).toBe(false);
    expect(plan.step(mmap('c'), 4)).toEqual(['ops[4].region: more than 2 region names in the case (`old` names included)']);
    expect(plan.step(mmap('a'), 4)).toEqual([]);
  });

  it('munmap marks pages; a region is live while any page is mapped', () => {
    const plan = planOf([mmap('a', 3), { op: 'munmap', region: 'a', first: 1 }]);
    expect(at(plan, 0, 'a').unmapped).toEqual([0, 1, 1]);
    expect(isLive(plan.regionOf(0, 'a')!)).toBe(true);
    plan.step({ op: 'munmap', region: 'a', count: 1 }, 2);
    expect(isLive(plan.regionOf(0, 'a')!)).toBe(false);
    expect(plan.liveRegions(0)).toEqual([]);
  });
});

describe('CasePlan: region hooks', () => {
  it('carries extra per-region data through mmap, move, remnant and fork', () => {
    type R = PlanRegion & { tag: string };
    const hooks: RegionHooks<R> = {
      created: (op, place) => ({ ...place, tag: `${op.op === 'mmap' ? op.kind : '?'}` }),
      copied: (r, place, why) => ({ ...r, ...place, tag: `${r.tag}/${why}` }),
    };
    const plan = new CasePlan<R>({ uffd: false, hooks });
    const ops: Op[] = [mmap('a'), { op: 'mremap', region: 'a', dontunmap: true, old: 'o' }, { op: 'fork' }];
    ops.forEach((op, i) => expect(plan.step(op, i)).toEqual([]));
    expect(plan.regionOf(0, 'a')!.tag).toBe('anon/move');
    expect(plan.regionOf(0, 'o')!.tag).toBe('anon/remnant');
    expect(plan.regionOf(1, 'a')!.tag).toBe('anon/move/fork');
    expect(plan.regionOf(1, 'a')!.unmapped).not.toBe(plan.regionOf(0, 'a')!.unmapped);
  });
});
