// The stored NATS campaign record (src/campaign/nats-campaign.ts): the campaign's definition, its
// progress snapshots, its summary and the "last campaign" pointer, as they are written to and read
// from PTEFARM_STATE. Versioned: what this version writes is `format: "ptefarm-campaign/2"` with
// snake_case keys, like every other JSON ptefarm writes; a record without `format` is what earlier
// versions stored (camelCase keys, format 1) and is still read, so a campaign they started resumes.
//
// A record is input like any other (anyone who can publish to the state stream can write one): it
// is parsed with a zod schema and bounded before use, and a bad one is a RecordError naming the
// first bad field in the record's own spelling. The TypeScript side keeps camelCase names.
import { z } from 'zod';
import { camelKeys, snakeKeys } from '../ops/records.ts';

export const CAMPAIGN_RECORD_FORMAT = 'ptefarm-campaign/2';

export class RecordError extends Error {}

/** Keys whose TypeScript name is snake_case already (a campaign summary's own fields): camelKeys
 *  must leave them as they are when a /2 summary is read back. */
const SNAKE_NATIVE = new Set(['elapsed_s', 'cases_per_s', 'rules_hit', 'rules_total', 'infrastructure_faults', 'first_case', 'first_ms', 'minimized_ms']);

const snakeName = (k: string | number) => typeof k === 'number' ? String(k) : k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** The keys of a /2 record that are not snake_case (outside `case` values), with their paths. */
function camelPaths(x: unknown, path: string[] = []): string[] {
  if (Array.isArray(x)) return x.flatMap((v, i) => camelPaths(v, [...path, String(i)]));
  if (!x || typeof x !== 'object') return [];
  return Object.entries(x).flatMap(([k, v]) => [
    ...(/^[a-z0-9_]+$/.test(k) ? [] : [[...path, k].join('.')]),
    ...(k === 'case' ? [] : camelPaths(v, [...path, k])),
  ]);
}

/** The record to store for `value` (a camelCase TypeScript object): format 2, snake_case keys. */
export function encodeRecord(value: object): Record<string, unknown> {
  return { format: CAMPAIGN_RECORD_FORMAT, ...(snakeKeys(value) as Record<string, unknown>) };
}

/**
 * Read a stored record with `schema` (which states the camelCase TypeScript shape): a /2 record is
 * snake_case throughout (a camelCase key in it is an error), converted, then parsed; a record
 * without `format` is format 1 (earlier versions: camelCase keys) and parsed as it is. Errors name
 * the field as the record spells it.
 */
export function decodeRecord<T>(raw: unknown, schema: z.ZodType<T>, what: string): T {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new RecordError(`${what} is invalid: record: expected an object`);
  const { format, ...rest } = raw as Record<string, unknown>;
  let input: unknown = rest;
  let v2 = false;
  if (format === CAMPAIGN_RECORD_FORMAT) {
    v2 = true;
    const camel = camelPaths(rest);
    if (camel.length) throw new RecordError(`${what} is invalid: ${camel[0]}: a ${CAMPAIGN_RECORD_FORMAT} record has snake_case keys`.slice(0, 300));
    input = camelKeys(rest, SNAKE_NATIVE);
  } else if (format !== undefined) {
    throw new RecordError(`${what} is invalid: format: ${JSON.stringify(format).slice(0, 60)} is not a campaign record format this version reads (${CAMPAIGN_RECORD_FORMAT}, or none for the records of earlier versions)`);
  }
  const r = schema.safeParse(input);
  if (!r.success) {
    const i = r.error.issues[0];
    const path = i.path.map((k) => (v2 ? snakeName(k as string | number) : String(k)));
    throw new RecordError(`${what} is invalid: ${path.length ? path.join('.') : 'record'}: ${i.message}`.slice(0, 300));
  }
  return r.data;
}
