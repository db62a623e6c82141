// Canonical JSON (sorted keys, no whitespace) and a cheap stable hash of it: the identity of a case
// for minimization caches, determinism checks, corpus de-duplication and the farm's job hashes
// (src/transport/nats-common.ts jobHash).
import { createHash } from 'node:crypto';

export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return '[' + v.map(canonicalJson).join(',') + ']';
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort();
  return '{' + keys.map((k) => JSON.stringify(k) + ':' + canonicalJson(o[k])).join(',') + '}';
}

export function hashOf(v: unknown): string {
  return createHash('sha1').update(canonicalJson(v)).digest('hex').slice(0, 16);
}
