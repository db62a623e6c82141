// `ptefarm repro`: a case as a standalone C program (kselftest style) that performs the case's ops
// with plain syscalls at the executor's addresses (the live target's plan, src/targets/live.ts
// encodeCase, and the same process structure and syscalls as workers/executor), reads
// /proc/self/pagemap after every op, and checks every bit the reference model expects. It
// compiles with `cc repro.c` on any Linux box and needs nothing from ptefarm.
//
// Expectations depend on outcomes the kernel chooses (was a fault mapped huge? did MADV_PAGEOUT
// reclaim?). By default they assume the model's neutral outcomes (every THP-eligible fault is
// huge, every reclaimable page is swapped out); `outcomes` (a trace, e.g. recorded on the machine
// that will run the program) makes them assume that trace's outcomes instead. The program checks
// that the kernel chose the assumed outcome before comparing bits, retries, and skips otherwise.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatFor, needsV2, V2_SCAN_FIELDS, type Case, type Op } from '../ops/schema.ts';
import type { Trace, UffdEvent } from '../ops/trace.ts';
import { formatOp, formatText } from '../ops/text.ts';
import { predict, recordsZero } from '../model/model.ts';
import { parseModelSpec } from '../targets/model.ts';
import { encodeCase } from '../targets/live.ts';
import { packagePath } from '../package-root.ts';
import { own } from '../ops/records.ts';
import { assertedKinds } from '../check/check.ts';

export class ReproError extends Error {}

/** Ops the C runtime performs (every op of ptefarm-case/1 today). */
export const C_OPS: ReadonlySet<Op['op']> = new Set([
  'mmap', 'munmap', 'mremap', 'mprotect', 'read', 'write', 'fork', 'exit', 'clear_refs', 'pageout', 'dontneed',
  'collapse', 'split', 'uffd_register', 'uffd_unregister', 'wp', 'scan', 'populate', 'close_uffd',
]);

export interface ReproOptions {
  /** the model whose predictions the program checks (default model:x86) */
  expectFrom?: string;
  /** take the outcomes (huge, swapped_out) from this trace instead of the model's neutral ones */
  outcomes?: Trace;
  /** source shown in the header, e.g. the case file */
  source?: string;
}

const RUNTIME = packagePath('src', 'report', 'repro-runtime.c');
/** the executor's shared headers (ptefarm-uapi.h, ptefarm-mm.h), which the runtime #includes */
const EXECUTOR_DIR = packagePath('workers', 'executor');

/** `#include "name.h"` lines replaced by the executor header's text (each header once, nested
 *  includes too), so the program stays one file that compiles alone */
export function inlineHeaders(text: string, seen: Set<string> = new Set()): string {
  return text.replace(/^#include "([\w.-]+)"[^\n]*$/gm, (_line, name: string) => {
    if (seen.has(name)) return `/* ${name}: inlined above */`;
    seen.add(name);
    let body: string;
    try { body = readFileSync(join(EXECUTOR_DIR, name), 'utf8'); } catch (e) {
      throw new ReproError(`the C runtime includes ${name}, which is not in workers/executor: ${(e as Error).message}`);
    }
    return `/* ---- ${name}, inlined from ptefarm's workers/executor/${name} ---- */\n${inlineHeaders(body, seen).trimEnd()}\n/* ---- end of ${name} ---- */`;
  });
}

const cstr = (s: string) => '"' + s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/[^\x20-\x7e]/g, '?') + '"';

/** run-length form the C side expands: items separated by spaces, `xN` repeats the item N times */
export function rle(items: string[]): string {
  const out: string[] = [];
  for (let i = 0; i < items.length;) {
    let j = i + 1;
    while (j < items.length && items[j] === items[i]) j++;
    out.push(j - i > 1 ? `${items[i]}x${j - i}` : items[i]);
    i = j;
  }
  return out.join(' ');
}

/** swapped-out page lists as ranges ("0-511 600"), as the C side prints them */
export function pageRanges(pages: number[]): string {
  const out: string[] = [];
  for (let i = 0; i < pages.length;) {
    let j = i;
    while (j + 1 < pages.length && pages[j + 1] === pages[j] + 1) j++;
    out.push(j > i ? `${pages[i]}-${pages[j]}` : `${pages[i]}`);
    i = j + 1;
  }
  return out.join(' ');
}

const eventText = (e: UffdEvent) => `${e.kind} ${e.proc} ${e.region ?? '-'} ${e.page ?? '-'} ${e.child ?? '-'}`;

export function generateRepro(c0: Case, opts: ReproOptions = {}): string {
  // a /2-format case that uses nothing of /2 is the same case in /1, whose six pagemap letters the
  // C runtime checks
  const c: Case = { ...c0, format: formatFor(c0.ops) };
  const bad = c.ops.map((op, i) => [op, i] as const).filter(([op]) => !C_OPS.has(op.op));
  if (bad.length) {
    const [op, i] = bad[0];
    throw new ReproError(`op ${i} (${op.op}): the C reproducer cannot express "${op.op}" yet`);
  }
  // the C runtime checks six pagemap bits and the /1 scan: a ptefarm-case/2 feature is refused
  // with its name (guard ops are refused above)
  const v2 = c.ops.findIndex((op) => needsV2(op as Op & Record<string, unknown>));
  if (v2 >= 0) {
    const op = c.ops[v2] as Op & Record<string, unknown>;
    const fields = V2_SCAN_FIELDS.filter((f) => op[f] !== undefined).join(', ');
    throw new ReproError(`op ${v2} (${op.op}): the C reproducer cannot express the ptefarm-case/2 scan argument${fields.includes(',') ? 's' : ''} ${fields} yet`);
  }
  const spec = opts.expectFrom ?? 'model:x86';
  let model;
  try { model = parseModelSpec(spec); } catch (e) { throw new ReproError(`--expect-from: ${(e as Error).message}`); }
  const observed = opts.outcomes
    ? c.ops.map((_, i) => { const s = opts.outcomes!.steps.find((x) => x.op === i); return s ? { outcome: s.outcome ?? {}, pages: s.pages } : undefined; })
    : undefined;
  const pred = predict(c, observed, { profile: model.profile, ...(model.mutant ? { mutant: model.mutant } : {}) });
  const enc = encodeCase(c);
  const rid = (name: string, step: number) => {
    const k = enc.regionNames.indexOf(name);
    if (k < 0) throw new ReproError(`step ${step}: the model names region "${name}", which the executor plan does not know`);
    return k;
  };

  const opsRows = enc.lines.map((l, i) => {
    const v = l.split(' ').map(Number);
    if (v.some((x) => !Number.isFinite(x))) throw new ReproError(`op ${i}: bad plan line "${l}"`);
    while (v.length < 10) v.push(0);
    return `  { ${v.join(', ')} }, /* ${i} ${formatOp(c.ops[i]).replace(/\*\//g, '* /')} */`;
  });
  const stepRows: string[] = [];
  const pageRows: string[] = [];
  const scanRows: string[] = [];
  pred.steps.forEach((ps, i) => {
    const op = c.ops[i];
    const region = 'region' in op ? op.region : undefined;
    const faults = op.op === 'read' || op.op === 'write' || op.op === 'collapse' || op.op === 'populate';
    const huge = faults && region !== undefined ? cstr((own(ps.outcome.huge, region) ?? []).join(' ')) : 'NULL';
    const swapped = op.op === 'pageout' ? cstr(pageRanges([...(own(ps.outcome.swapped_out, region!) ?? [])].sort((a, b) => a - b))) : 'NULL';
    const zero = recordsZero(op) ? cstr(pageRanges([...(own(ps.outcome.zero, region!) ?? [])].sort((a, b) => a - b))) : 'NULL';
    const events = cstr(ps.events.map(eventText).sort().join(';'));
    stepRows.push(`  { ${cstr(String(ps.rc))}, ${huge}, ${swapped}, ${zero}, ${events} }, /* ${i} */`);
    for (const [proc, regions] of Object.entries(ps.pages)) {
      for (const [name, strs] of Object.entries(regions)) {
        pageRows.push(`  { ${i}, ${proc}, ${rid(name, i)}, ${cstr(rle(strs))} }, /* step ${i}: p${proc} ${name} */`);
      }
    }
    for (const [proc, regions] of Object.entries(ps.scan ?? {})) {
      for (const [name, strs] of Object.entries(regions)) {
        scanRows.push(`  { ${i}, ${proc}, ${rid(name, i)}, ${cstr(rle(strs))} }, /* step ${i}: scan p${proc} ${name} */`);
      }
    }
  });
  const name = c.name ?? opts.source ?? 'unnamed case';
  const runtime = inlineHeaders(readFileSync(RUNTIME, 'utf8'));
  const caseText = formatText(c).replace(/\*\//g, '* /').split('\n').filter(Boolean).map((l) => ` *   ${l}`).join('\n');
  return `/*
 * ptefarm reproducer (kselftest style). Generated by \`ptefarm repro\`${opts.source ? ` from ${opts.source.replace(/\*\//g, '* /')}` : ''}.
 * Expectations: ${spec}${opts.outcomes ? ', outcomes (THP, reclaim) from a recorded trace' : ', neutral outcomes (every THP-eligible fault huge, every anon read fault the zero page, every reclaimable page swapped out)'}.
 *
 *   cc -o repro repro.c && ./repro      # KTAP on stdout; exit 0 pass, 1 fail, 4 skip
 *
 * Run it as root (it drops to nobody, keeping CAP_SYS_PTRACE only for event_fork, like ptefarm's executor) or as any
 * user (cases with UFFD_FEATURE_EVENT_FORK then skip). Expected pagemap bits per page, in order
 * P S F E W D = present(63) swapped(62) file/shared(61) exclusive(56) uffd-wp(57) soft-dirty(55),
 * '.' = 0, '*' = any; PAGEMAP_SCAN categories a w f p s z h d g, '-' = not reported;
 * "ITEMxN" repeats an item N times.
 *
 * The case:
${caseText}
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- the case: one row per op, as ptefarm's executor plans it (code, proc, region id, ...);
 *      page numbers are absolute, addresses = page * 4096 ------------------------------------- */
static const char *CASE_NAME = ${cstr(name)};
#define NOPS ${c.ops.length}
static const int64_t UFFD_FEATURES = ${enc.uffdFeatures}; /* -1: no userfaultfd */
#define USES_SCAN ${c.ops.some((o) => o.op === 'scan') ? 1 : 0}
#define USES_PAGEOUT ${c.ops.some((o) => o.op === 'pageout') ? 1 : 0}
/* the bit kinds this case exists to assert (ptefarm's check: soft-dirty after clear_refs 4,
 * uffd-wp after UFFDIO_WRITEPROTECT); when all of them are masked a pass is a SKIP (exit 4) */
#define ASSERTS_SOFT_DIRTY ${assertedKinds(c).has('soft-dirty') ? 1 : 0}
#define ASSERTS_UFFD_WP ${assertedKinds(c).has('uffd-wp') ? 1 : 0}
static const char *REGION_NAMES[] = { ${enc.regionNames.map(cstr).join(', ') || '"-"'} };
static const int64_t OPS[NOPS][10] = {
${opsRows.join('\n')}
};
static const char *OP_TEXT[NOPS] = { ${c.ops.map((o) => cstr(formatOp(o))).join(', ')} };

/* ---- what ${spec} expects after every op -------------------------------------------------- */
/* rc ("*" = any); huge / swapped: the outcome assumed for the op's region (NULL: not checked);
 * uffd events "kind proc region page child", sorted, ';'-separated */
struct exp_step { const char *rc; const char *huge; const char *swapped; const char *zero; const char *events; };
static const struct exp_step EXP_STEP[NOPS] = {
${stepRows.join('\n')}
};
struct exp_pages { int step, proc, rid; const char *bits; };
static const struct exp_pages EXP_PAGES[] = {
${pageRows.join('\n') || '  { -1, 0, 0, "" },'}
};
struct exp_scan { int step, proc, rid; const char *cats; };
static const struct exp_scan EXP_SCAN[] = {
${scanRows.join('\n') || '  { -1, 0, 0, "" },'}
};

${runtime}`;
}
