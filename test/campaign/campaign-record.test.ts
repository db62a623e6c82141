// The stored NATS campaign record (src/campaign/campaign-record.ts): this version writes
// `ptefarm-campaign/2` records with snake_case keys, like all other JSON ptefarm writes, and still
// reads the camelCase records earlier versions stored (their campaigns resume). The old records
// below are literally what the previous version's runFarmCampaign published (JSON.stringify of the
// definition, of a progress snapshot and of the summary).
import { describe, expect, it } from 'vitest';
import { CAMPAIGN_RECORD_FORMAT, decodeRecord, encodeRecord, RecordError } from '../../src/campaign/campaign-record.ts';
import { definitionSchema, progressSchema, summarySchema } from '../../src/campaign/nats-campaign.ts';
import { notSnake } from '../helpers/json-keys.ts';

const OLD_META = '{"target":"model:x86+B-3","seed":7,"cases":600,"durationMs":300000,"timeoutMs":10000,"stopAfterBuckets":2,"minimize":true,'
  + '"profile":"6.12","generate":{"maxOps":8},"corpusDir":"/somewhere/else","campaign":"oldie","concurrency":8,"started":"2026-12-01T10:00:00.000Z"}';
const OLD_PROGRESS = '{"campaign":"oldie","nextCase":212,"completed":200,"violations":3,"faults":0,"buckets":["bit.W.wp-lost.R-MPROT-3.page"],"elapsedMs":41234.5,"updated":"2026-12-01T10:00:41.000Z"}';
const OLD_SUMMARY = '{"target":"model:x86","seed":7,"cases":600,"violations":0,"faults":0,"skipped":0,"elapsed_s":12.5,"cases_per_s":48,'
  + '"coverage":{"rules_hit":80,"rules_total":114,"rules":["R-FLT-1"]},"stopped":"cases","buckets":[],"campaign":"oldie","resumed":false,'
  + '"farm":{"published":600,"received":600,"replayed":0,"duplicates":0,"rejected":0,"deadLettered":[],"publishRetries":0,"sweptJobs":0,"workersLost":0,"workers":[]},"infrastructure_faults":[]}';

describe('stored campaign record', () => {
  it('a definition stored by an earlier version (camelCase, no format) is still read, its corpusDir dropped', () => {
    const def = decodeRecord(JSON.parse(OLD_META), definitionSchema, 'meta');
    expect(def).toEqual({
      target: 'model:x86+B-3', seed: 7, cases: 600, durationMs: 300000, timeoutMs: 10000, stopAfterBuckets: 2, minimize: true,
      profile: '6.12', generate: { maxOps: 8 }, campaign: 'oldie', concurrency: 8, started: '2026-12-01T10:00:00.000Z',
    });
    expect(decodeRecord(JSON.parse(OLD_PROGRESS), progressSchema, 'progress')).toMatchObject({ nextCase: 212, elapsedMs: 41234.5, buckets: ['bit.W.wp-lost.R-MPROT-3.page'] });
    expect(decodeRecord(JSON.parse(OLD_SUMMARY), summarySchema, 'summary')).toMatchObject({ elapsed_s: 12.5, farm: { deadLettered: [], workersLost: 0 } });
  });

  it('this version writes format 2 with snake_case keys only, and reads back what it wrote', () => {
    const def = decodeRecord(JSON.parse(OLD_META), definitionSchema, 'meta');
    const progress = decodeRecord(JSON.parse(OLD_PROGRESS), progressSchema, 'progress');
    const summary = decodeRecord(JSON.parse(OLD_SUMMARY), summarySchema, 'summary');
    for (const [v, schema] of [[def, definitionSchema], [progress, progressSchema], [summary, summarySchema]] as const) {
      const stored = JSON.parse(JSON.stringify(encodeRecord(v)));
      expect(stored.format).toBe(CAMPAIGN_RECORD_FORMAT);
      expect(notSnake(stored)).toEqual([]);
      expect(decodeRecord(stored, schema as typeof definitionSchema, 'x')).toEqual(v);
    }
    expect(encodeRecord(def)).toMatchObject({ duration_ms: 300000, stop_after_buckets: 2, generate: { max_ops: 8 } });
    expect(encodeRecord(summary)).toMatchObject({ elapsed_s: 12.5, farm: { dead_lettered: [], workers_lost: 0 } });
  });

  it('a case inside a stored summary keeps its region names as they are', () => {
    const c = { format: 'ptefarm-case/1', ops: [{ op: 'mmap', region: 'myRegion', pages: 1, kind: 'anon' }] };
    const summary = { ...JSON.parse(OLD_SUMMARY), buckets: [{ signature: 's', title: 't', hits: 1, ops: 1, minimized: false, case: { ...c, byName: { fooBar: 1 } } }] };
    const stored = encodeRecord(summary) as { buckets: { case: unknown }[] };
    expect(stored.buckets[0].case).toEqual({ ...c, byName: { fooBar: 1 } });
    expect(decodeRecord(stored, summarySchema, "x").buckets[0]!.case).toEqual({ ...c, byName: { fooBar: 1 } });
  });

  it('bad records are errors naming the field as the record spells it', () => {
    const v2 = encodeRecord(decodeRecord(JSON.parse(OLD_META), definitionSchema, 'meta')) as Record<string, unknown>;
    expect(() => decodeRecord({ ...v2, duration_ms: -1 }, definitionSchema, 'stored record M')).toThrow(/^stored record M is invalid: duration_ms: /);
    expect(() => decodeRecord({ ...v2, generate: { max_ops: 1e6 } }, definitionSchema, 'M')).toThrow(/invalid: generate\.max_ops: /);
    // a /2 record is snake_case throughout: a camelCase key is not silently taken
    expect(() => decodeRecord({ ...v2, durationMs: 5 }, definitionSchema, 'M')).toThrow(/invalid: durationMs: a ptefarm-campaign\/2 record has snake_case keys/);
    // an old record keeps its own spelling in errors
    expect(() => decodeRecord({ ...JSON.parse(OLD_META), durationMs: -1 }, definitionSchema, 'M')).toThrow(/invalid: durationMs: /);
    expect(() => decodeRecord({ ...v2, format: 'ptefarm-campaign/9' }, definitionSchema, 'M')).toThrow(RecordError);
    expect(() => decodeRecord({ ...v2, format: 'ptefarm-campaign/9' }, definitionSchema, 'M')).toThrow(/format: "ptefarm-campaign\/9" is not a campaign record format this version reads/);
    expect(() => decodeRecord([1], definitionSchema, 'M')).toThrow(/M is invalid: record: expected an object/);
  });
});
