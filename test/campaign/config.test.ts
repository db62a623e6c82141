// The one option vocabulary (src/campaign/config.ts): durations need a unit everywhere, the seed
// defaults to 1 everywhere ("random" asks for a fresh one), the old --stop-after spellings are
// aliases, the work directory defaults to ./ptefarm-work, and fuzz's removed --corpus DIR says why.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { DEFAULT_SEED, OptionError, parseDuration, resolveCampaignFlags, resolveSeed, resolveWorkdir } from '../../src/campaign/config.ts';

describe('campaign options', () => {
  it('durations: 500ms, 30s, 5m, 2h, 1.5m; no bare numbers, no zero', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('5m')).toBe(300_000);
    expect(parseDuration('2h')).toBe(7_200_000);
    expect(parseDuration(' 1.5m ')).toBe(90_000);
    expect(() => parseDuration('10000', 'timeout')).toThrow(/--timeout: "10000" has no unit/);
    expect(() => parseDuration('5 min', 'duration')).toThrow(/--duration: "5 min" is not a duration/);
    expect(() => parseDuration('0s')).toThrow(OptionError);
  });

  it('seed: 1 unless given; "random" is taken from the clock; negative or fractional is refused', () => {
    expect(DEFAULT_SEED).toBe(1);
    expect(resolveSeed(undefined)).toBe(1);
    expect(resolveSeed('42')).toBe(42);
    expect(resolveSeed('random', 2 ** 31 + 7)).toBe(7);
    expect(() => resolveSeed('-1')).toThrow(/--seed/);
    expect(() => resolveSeed('1.5')).toThrow(/--seed/);
  });

  it('work directory: ./ptefarm-work under the current directory unless --workdir, always absolute', () => {
    expect(resolveWorkdir(undefined, '/home/u/src')).toBe('/home/u/src/ptefarm-work');
    expect(resolveWorkdir('w', '/home/u/src')).toBe('/home/u/src/w');
    expect(resolveWorkdir('/tmp/x', '/home/u/src')).toBe('/tmp/x');
  });

  it('resolves the shared flags with the same defaults for every campaign command', () => {
    const cwd = '/r';
    expect(resolveCampaignFlags({}, cwd)).toEqual({
      seed: 1, cases: 1000, durationMs: undefined, timeoutMs: 10_000, stopAfterBuckets: undefined,
      workdir: join(cwd, 'ptefarm-work'), save: true, minimize: true, profile: undefined,
    });
    // --duration alone: no case cap; both: both apply
    expect(resolveCampaignFlags({ duration: '2m' }, cwd)).toMatchObject({ cases: undefined, durationMs: 120_000 });
    expect(resolveCampaignFlags({ duration: '2m', cases: '5' }, cwd)).toMatchObject({ cases: 5, durationMs: 120_000 });
    expect(resolveCampaignFlags({ cases: '0' }, cwd).cases).toBe(0); // gate: replay the corpus only
    expect(resolveCampaignFlags({ save: false, minimize: false, timeout: '2s' }, cwd)).toMatchObject({ save: false, minimize: false, timeoutMs: 2000 });
  });

  it('--stop-after, its old spelling --stop-after-buckets and --first are one setting', () => {
    expect(resolveCampaignFlags({ stopAfter: '3' }).stopAfterBuckets).toBe(3);
    expect(resolveCampaignFlags({ stopAfterBuckets: '2' }).stopAfterBuckets).toBe(2);
    expect(resolveCampaignFlags({ first: true }).stopAfterBuckets).toBe(1);
    expect(() => resolveCampaignFlags({ stopAfter: '0' })).toThrow(/--stop-after: expected an integer >= 1/);
  });

  it('--corpus DIR as a place for findings is refused with the way to promote one', () => {
    expect(() => resolveCampaignFlags({ corpus: 'corpus/regressions' })).toThrow(/--workdir.*ptefarm corpus add/);
  });
});
