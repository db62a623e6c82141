// Name-keyed records that are safe for any name. Region names, process numbers and table keys come
// from input, and a plain object keyed by input loses `__proto__` (assignment sets the prototype,
// zod's z.record drops the key) and finds `constructor`, `toString`... on Object.prototype. Every
// name-keyed structure of a case, a trace or a table is built with `dict()` (no prototype) or a
// Map, read with `own()`, and parsed with `safeRecord()`. Used by src/ops/trace.ts, the model, the
// check, the targets and the reports.
import { z } from 'zod';

/** An empty record without a prototype: any string is an ordinary key. */
export function dict<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

/** rec[key] when `key` is the record's own property; never something inherited. */
export function own<T>(rec: Readonly<Record<string, T>> | null | undefined, key: string): T | undefined {
  return rec != null && Object.prototype.hasOwnProperty.call(rec, key) ? rec[key] : undefined;
}

/** Set rec[key] as an own property whatever the key (`__proto__` included). */
export function put<T>(rec: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(rec, key, { value, enumerable: true, writable: true, configurable: true });
}

/** A zod schema for `{ [key]: value }` that keeps every own key (z.record drops `__proto__`) and
 *  returns a prototype-free record. Issues carry the key in their path. */
export function safeRecord<V extends z.ZodType>(value: V, key?: z.ZodType<string>) {
  return z.unknown().transform((input, ctx): Record<string, z.output<V>> => {
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      ctx.addIssue({ code: 'custom', message: `expected an object, got ${input === null ? 'null' : Array.isArray(input) ? 'an array' : typeof input}` });
      return z.NEVER;
    }
    const out = dict<z.output<V>>();
    for (const k of Object.keys(input)) {
      if (key) {
        const kr = key.safeParse(k);
        if (!kr.success) { for (const i of kr.error.issues) ctx.addIssue({ code: 'custom', message: `bad key: ${i.message}`, path: [k] }); continue; }
      }
      const r = value.safeParse((input as Record<string, unknown>)[k]);
      if (r.success) put(out, k, r.data as z.output<V>);
      else for (const i of r.error.issues) ctx.addIssue({ code: 'custom', message: i.message, path: [k, ...i.path] });
    }
    return out;
  });
}

/**
 * JSON ptefarm prints or stores (summaries, --json events, stored campaign records) uses snake_case
 * keys. Converts camelCase keys recursively, except inside `case` values (a case's region names are
 * data, not keys to rename). The CLI (src/cli/io.ts) and the stored NATS campaign record
 * (src/campaign/campaign-record.ts) use it.
 */
export function snakeKeys(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(snakeKeys);
  if (!x || typeof x !== 'object') return x;
  const out = dict<unknown>(); // safe for any key
  for (const [k, v] of Object.entries(x)) put(out, k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), k === 'case' ? v : snakeKeys(v));
  return out;
}

/** The inverse of snakeKeys for records read back into camelCase types: `a_b` -> `aB`, recursively,
 *  except inside `case` values and for the keys in `keep` (fields whose TypeScript name is itself
 *  snake_case, e.g. a summary's `elapsed_s`). */
export function camelKeys(x: unknown, keep: ReadonlySet<string> = new Set()): unknown {
  if (Array.isArray(x)) return x.map((v) => camelKeys(v, keep));
  if (!x || typeof x !== 'object') return x;
  const out = dict<unknown>();
  for (const [k, v] of Object.entries(x)) put(out, keep.has(k) ? k : k.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()), k === 'case' ? v : camelKeys(v, keep));
  return out;
}
