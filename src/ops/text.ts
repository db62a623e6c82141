// The compact text form of a ptefarm-case/1: one op per line, for humans. `parseText(formatText(c))`
// deep-equals `c` for every valid case: every optional field keeps its presence or absence.
//
//   ptefarm-case/1
//   name "wp survives swap-out"          JSON string; line absent = no name
//   uffd features=wp_async,event_fork    `uffd` alone = {}; `uffd features=` = { features: [] }
//   0 mmap a pages=4 kind=anon thp       optional leading op index (checked when present)
//   1 p1 write a[0..2)                   optional `pN` = "proc": N (p0 = an explicit "proc": 0)
//
// Page ranges after the region name: `a` (no first, no count), `a[3]` (first 3, count 1),
// `a[2..5)` (first 2, count 3), `a[2..]` (first 2, count absent), `a[..5)` (first absent, count 5).
// Other fields are `key=value`; a boolean is `key` (true) or `key=false`; `wp` takes `on` / `off`.
// `#` starts a comment (a whole line, or after whitespace on an op line). Blank lines are ignored.
import { CASE_FORMATS, FEATURES, OP_NAMES, formatFor, type Case, type CaseFormat, type Feature, type Op, type OpName } from './schema.ts';
import { validateCase } from './validate.ts';
import { DEFAULT_LIMITS, type Limits } from './layout.ts';
import { own, put } from './records.ts';
import { clip, someProblems } from './bounded.ts';

export const TEXT_HEADER = 'ptefarm-case/1';
/** the header lines this reader knows: the case's format */
const TEXT_HEADERS: readonly string[] = CASE_FORMATS;

/** `cats`: PAGEMAP_SCAN category letters (src/ops/schema.ts SCAN_CATEGORY_RE); `key=` is none */
type FieldType = 'int' | 'bool' | 'name' | 'cats' | readonly string[];
interface OpSyntax {
  /** what follows the op name: a page range, a bare region name, or nothing */
  subject: 'range' | 'region' | 'none';
  /** key=value fields in print order */
  fields: Record<string, FieldType>;
}

const PROTS = ['none', 'r', 'rw'] as const;
const KIND_LIST = ['anon', 'shared-anon', 'memfd-shared', 'memfd-private', 'hugetlb', 'hugetlb-shared'] as const;

const SYNTAX: Record<OpName, OpSyntax> = {
  mmap: { subject: 'region', fields: { pages: 'int', kind: KIND_LIST, thp: 'bool', after: 'name' } },
  munmap: { subject: 'range', fields: {} },
  mremap: { subject: 'region', fields: { pages: 'int', move: 'bool', dontunmap: 'bool', old: 'name' } },
  mprotect: { subject: 'range', fields: { prot: PROTS } },
  read: { subject: 'range', fields: {} },
  write: { subject: 'range', fields: {} },
  fork: { subject: 'none', fields: {} },
  exit: { subject: 'none', fields: {} },
  clear_refs: { subject: 'none', fields: { value: 'int' } },
  pageout: { subject: 'range', fields: {} },
  dontneed: { subject: 'range', fields: {} },
  collapse: { subject: 'range', fields: {} },
  split: { subject: 'region', fields: { page: 'int' } },
  uffd_register: { subject: 'range', fields: {} },
  uffd_unregister: { subject: 'range', fields: {} },
  wp: { subject: 'range', fields: { on: 'bool' } },
  scan: {
    subject: 'range',
    fields: {
      wp_matching: 'bool', max_pages: 'int', check_wpasync: 'bool', no_vec: 'bool',
      category_mask: 'cats', category_inverted: 'cats', category_anyof_mask: 'cats', return_mask: 'cats',
    },
  },
  populate: { subject: 'range', fields: { write: 'bool' } },
  close_uffd: { subject: 'none', fields: {} },
  guard: { subject: 'range', fields: {} },
  unguard: { subject: 'range', fields: {} },
};

/** A syntax error in the text form: every problem as `line N: message`. */
export class TextError extends Error {
  constructor(readonly problems: string[], source?: string) {
    super(`${source ? source + ': ' : ''}invalid case text:\n  ${someProblems(problems).join('\n  ')}`);
    this.name = 'TextError';
  }
}

// ------------------------------------------------------------------------------------------------
// format

function formatRange(op: { region: string; first?: number; count?: number }): string {
  const { region, first, count } = op;
  if (first === undefined && count === undefined) return region;
  if (first === undefined) return `${region}[..${count})`;
  if (count === undefined) return `${region}[${first}..]`;
  if (count === 1) return `${region}[${first}]`;
  return `${region}[${first}..${first + count})`;
}

/** One op as a line (without the index). */
export function formatOp(op: Op): string {
  const syn = SYNTAX[op.op];
  const rec = op as unknown as Record<string, unknown>;
  const parts: string[] = [];
  if (op.proc !== undefined) parts.push(`p${op.proc}`);
  parts.push(op.op);
  if (syn.subject === 'range') parts.push(formatRange(rec as { region: string }));
  else if (syn.subject === 'region') parts.push(String(rec.region));
  for (const [key, type] of Object.entries(syn.fields)) {
    const v = rec[key];
    if (v === undefined) continue;
    if (op.op === 'wp' && key === 'on') parts.push(v ? 'on' : 'off');
    else if (type === 'bool') parts.push(v ? key : `${key}=false`);
    else parts.push(`${key}=${String(v)}`);
  }
  return parts.join(' ');
}

/** The whole case as text; `indices` (default true) prefixes every op with its index. */
export function formatText(c: Case, opts: { indices?: boolean } = {}): string {
  const lines: string[] = [c.format];
  if (c.name !== undefined) lines.push(`name ${JSON.stringify(c.name)}`);
  if (c.uffd !== undefined) {
    lines.push(c.uffd.features === undefined ? 'uffd' : `uffd features=${c.uffd.features.join(',')}`);
  }
  const width = String(Math.max(0, c.ops.length - 1)).length;
  c.ops.forEach((op, i) => {
    lines.push((opts.indices ?? true) ? `${String(i).padEnd(width)} ${formatOp(op)}` : formatOp(op));
  });
  return lines.join('\n') + '\n';
}

// ------------------------------------------------------------------------------------------------
// parse

export interface ParsedText {
  case: Case;
  /** 1-based line number of each op */
  opLines: number[];
}

const INT = /^\d+$/;

function parseInt10(s: string): number | undefined {
  if (!INT.test(s)) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : undefined;
}

function parseRange(spec: string): { region: string; first?: number; count?: number } | string {
  const open = spec.indexOf('[');
  if (open < 0) return { region: spec };
  const region = spec.slice(0, open);
  if (!region) return `missing region name before "["`;
  const body = spec.slice(open);
  let m = /^\[(\d+)\]$/.exec(body);
  if (m) {
    const first = parseInt10(m[1]);
    if (first === undefined) return `page number "${m[1]}" is too large`;
    return { region, first, count: 1 };
  }
  m = /^\[(\d*)\.\.(\d*)(\)|\])$/.exec(body);
  if (!m) return `bad page range "${body}" (expected [F], [F..E), [F..] or [..E))`;
  const [, f, e, close] = m;
  if (e === '' && f === '') return `empty page range "${body}" (write just the region name for the whole region)`;
  if (e === '') {
    if (close !== ']') return `bad page range "${body}": an open end is written [F..]`;
    const first = parseInt10(f);
    if (first === undefined) return `page number "${f}" is too large`;
    return { region, first };
  }
  if (close !== ')') return `bad page range "${body}": the end is exclusive, write [F..E)`;
  const end = parseInt10(e);
  if (end === undefined) return `page number "${e}" is too large`;
  if (f === '') {
    if (end < 1) return `empty page range "${body}": the end must be at least 1`;
    return { region, count: end };
  }
  const first = parseInt10(f);
  if (first === undefined) return `page number "${f}" is too large`;
  if (end <= first) return `empty page range "${body}": the end must be greater than the first page`;
  return { region, first, count: end - first };
}

function stripComment(line: string): string {
  const t = line.trimStart();
  if (t.startsWith('#')) return '';
  const m = /\s#/.exec(line);
  return m ? line.slice(0, m.index) : line;
}

/** Parse the text form into a case object (syntax only; see `parseTextCase` for validation too).
 *  Throws TextError naming every bad line. */
export function parseTextDetailed(text: string, source?: string): ParsedText {
  const problems: string[] = [];
  const ops: Op[] = [];
  const opLines: number[] = [];
  let name: string | undefined;
  let uffd: Case['uffd'];
  let format: CaseFormat | undefined;
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, li) => {
    const ln = li + 1;
    const bad = (msg: string) => problems.push(`line ${ln}: ${clip(msg, 400)}`);
    const trimmed = raw.trim();
    if (trimmed.startsWith('name ') || trimmed === 'name') {
      if (ops.length) return bad('the name line must come before the ops');
      if (name !== undefined) return bad('a second name line');
      const rest = trimmed.slice(4).trim();
      let v: unknown;
      try { v = JSON.parse(rest); } catch { v = undefined; }
      if (typeof v !== 'string') return bad(`name needs a JSON string, e.g. name "wp survives swap-out" (got ${rest || 'nothing'})`);
      name = v;
      return;
    }
    const line = stripComment(raw).trim();
    if (!line) return;
    const toks = line.split(/\s+/);
    if (/^ptefarm-case\//.test(toks[0])) {
      if (!TEXT_HEADERS.includes(toks[0]) || toks.length > 1) return bad(`unsupported format "${line}" (this reader knows ${TEXT_HEADERS.join(', ')})`);
      if (ops.length || name !== undefined || uffd !== undefined || format !== undefined) return bad(`the ${toks[0]} line must come first`);
      format = toks[0] as CaseFormat;
      return;
    }
    if (toks[0] === 'uffd') {
      if (ops.length) return bad('the uffd line must come before the ops');
      if (uffd !== undefined) return bad('a second uffd line');
      if (toks.length === 1) { uffd = {}; return; }
      if (toks.length > 2 || !toks[1].startsWith('features=')) return bad(`expected "uffd" or "uffd features=a,b" (got "${line}")`);
      const list = toks[1].slice('features='.length);
      const features = list === '' ? [] : list.split(',');
      const unknown = features.filter((f) => !(FEATURES as readonly string[]).includes(f));
      if (unknown.length) return bad(`unknown uffd feature ${unknown.map((f) => JSON.stringify(f)).join(', ')} (known: ${FEATURES.join(', ')})`);
      uffd = { features: features as Feature[] };
      return;
    }
    // an op line
    let t = 0;
    if (INT.test(toks[t])) {
      const idx = parseInt10(toks[t]);
      if (idx !== ops.length) return bad(`op index ${toks[t]} does not match its position ${ops.length} (fix or drop the index)`);
      t++;
    }
    const rec: Record<string, unknown> = {};
    const pm = toks[t] !== undefined ? /^p(\d+)$/.exec(toks[t]) : null;
    if (pm) {
      const p = parseInt10(pm[1]);
      if (p === undefined) return bad(`process number "${pm[1]}" is too large`);
      rec.proc = p;
      t++;
    }
    const opName = toks[t++];
    if (opName === undefined) return bad('an op name is missing');
    if (!(OP_NAMES as string[]).includes(opName)) {
      return bad(`unknown op "${opName}" (expected one of ${OP_NAMES.join(', ')}, or a name / uffd header line)`);
    }
    const syn = SYNTAX[opName as OpName];
    const out: Record<string, unknown> = { op: opName };
    if (syn.subject !== 'none') {
      const spec = toks[t];
      if (spec === undefined || spec.includes('=')) return bad(`${opName} needs a region${syn.subject === 'range' ? ' (optionally with a page range, e.g. a[0..2))' : ''} after the op name`);
      t++;
      if (syn.subject === 'range') {
        const r = parseRange(spec);
        if (typeof r === 'string') return bad(r);
        // field by field: Object.assign would make a region called `__proto__` the prototype
        for (const [k, v] of Object.entries(r)) put(out, k, v);
      } else {
        if (spec.includes('[')) return bad(`${opName} takes a region name, not a page range ("${spec}")${opName === 'split' ? '; use page=N' : ''}`);
        out.region = spec;
      }
    }
    const seen = new Set<string>();
    for (; t < toks.length; t++) {
      const tok = toks[t];
      const eq = tok.indexOf('=');
      let key = eq < 0 ? tok : tok.slice(0, eq);
      let val: string | undefined = eq < 0 ? undefined : tok.slice(eq + 1);
      if (opName === 'wp' && eq < 0 && (tok === 'on' || tok === 'off')) { key = 'on'; val = tok === 'on' ? 'true' : 'false'; }
      const type = own(syn.fields, key);
      if (type === undefined) {
        const known = Object.keys(syn.fields);
        if (INT.test(tok) || /^p\d+$/.test(tok)) return bad(`"${tok}" out of place: the op index and pN come before the op name`);
        return bad(`${opName} has no field "${key}"${known.length ? ` (fields: ${known.join(', ')})` : ' (it takes no fields)'}`);
      }
      if (seen.has(key)) return bad(`field "${key}" given twice`);
      seen.add(key);
      if (type === 'bool') {
        if (val === undefined || val === 'true') out[key] = true;
        else if (val === 'false') out[key] = false;
        else return bad(`field "${key}" is a flag: write "${key}" or "${key}=false" (got "${tok}")`);
      } else if (type === 'cats') {
        if (val === undefined) return bad(`field "${key}" needs categories: ${key}=LETTERS (of awfpszhdg; ${key}= for none)`);
        out[key] = val;
      } else if (val === undefined || val === '') {
        return bad(`field "${key}" needs a value: ${key}=${type === 'int' ? 'N' : type === 'name' ? 'REGION' : (type as readonly string[]).join('|')}`);
      } else if (type === 'int') {
        const n = parseInt10(val);
        if (n === undefined) return bad(`field "${key}" needs a whole number, got "${val}"`);
        out[key] = n;
      } else if (type === 'name') {
        out[key] = val;
      } else {
        if (!(type as readonly string[]).includes(val)) return bad(`field "${key}" must be one of ${(type as readonly string[]).join(', ')}, got "${val}"`);
        out[key] = val;
      }
    }
    if (opName === 'wp' && out.on === undefined) return bad('wp needs "on" or "off"');
    if (rec.proc !== undefined) out.proc = rec.proc;
    ops.push(out as Op);
    opLines.push(ln);
  });
  if (!problems.length && !ops.length) problems.push('no ops (a case needs at least one op line)');
  if (problems.length) throw new TextError(problems, source);
  // without a header line: the oldest format that has every op (src/ops/schema.ts formatFor)
  const c: Case = { format: format ?? formatFor(ops), ops };
  if (name !== undefined) c.name = name;
  if (uffd !== undefined) c.uffd = uffd;
  return { case: c, opLines };
}

/** Parse the text form (syntax only). */
export function parseText(text: string, source?: string): Case {
  return parseTextDetailed(text, source).case;
}

/** Parse and validate: syntax errors and case errors both name the line
 *  (`line 7 (ops[5].count): ...`). Throws TextError. */
export function parseTextCase(text: string, source?: string, limits: Limits = DEFAULT_LIMITS): Case {
  const { case: c, opLines } = parseTextDetailed(text, source);
  const problems = validateCase(c, limits);
  if (problems.length) {
    throw new TextError(problems.map((p) => {
      const m = /^ops\[(\d+)\]/.exec(p);
      const line = m ? opLines[Number(m[1])] : undefined;
      return line !== undefined ? `line ${line} (${p.replace(/: /, '): ')}` : p;
    }), source);
  }
  return c;
}
