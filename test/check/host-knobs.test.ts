// Host settings a trace's target reports decide the model knobs they govern (src/model/profile.ts
// hostKnobs): the check never assumes the CI host's settings.
import { describe, expect, it } from 'vitest';
import { checkTrace } from '../../src/check/check.ts';
import { ModelTarget } from '../../src/targets/model.ts';
import { parseTextCase } from '../../src/ops/text.ts';

const c = parseTextCase('ptefarm-case/1\nmmap a pages=512 kind=shared-anon thp\nwrite a\ncollapse a\n');

describe('host knobs', () => {
  it('shmem_enabled=deny: MADV_COLLAPSE of shmem fails with EINVAL (shmem_allowable_huge_orders refuses before shmem_huge_force)', async () => {
    const t = new ModelTarget('model:x86');
    const tr = await t.execute(c);
    expect(tr.steps[2].rc).toBe(0); // the stock host collapses
    // the same trace from a host reporting deny: x86 there returns EINVAL, so rc 0 is a violation
    const deny = checkTrace(c, { ...tr, target: { ...tr.target, host: { shmem_enabled: 'deny' } } });
    expect(deny.violations.some((v) => v.kind === 'rc' && v.step === 2 && v.expected === 'EINVAL')).toBe(true);
    // and a host reporting never collapses as the stock one
    expect(checkTrace(c, { ...tr, target: { ...tr.target, host: { shmem_enabled: 'never' } } }).ok).toBe(true);
  });
});
