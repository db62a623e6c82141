// Hidden decisions behind a divergence. Some kernel decisions set up a per-VMA state that no
// pagemap bit shows — which part of a VMA UFFDIO_REGISTER registers (R-REG-1), whether fork keeps
// the registration without EVENT_FORK (R-FORK-1), whether mremap without EVENT_REMAP drops it
// (R-MRM-6), unregister and close (R-UNREG-1, R-CLOSE-1), whether PAGEMAP_SCAN finds a VMA
// WP-allowed (R-PMS-1) — and a wrong one surfaces on whatever op looks next: a write-protect that
// should fail, a fault-around that should (not) happen, a fork that copies page tables, a scan
// category, an unmap event. Bucketed by the op that saw it, one such bug became a dozen buckets
// (issue 12). Here each violation the reference explains by such a decision gets it as
// `Violation.decision`, from the provenance the model keeps (PredictedStep.reg, opReg, wpAllowed,
// filled with attribution): the signature and title then name the decision (src/findings/).
//
// Which divergences a decision explains, by what the kernel gates on it:
//   registration (VM_UFFD_WP) of a VMA the reference has NOT registered, by a recorded rule:
//     uffd-wp bits and markers (only a registered VMA keeps them), the present bit (fork copies
//     the page tables of a uffd-wp VMA, vma_needs_copy; fault-around skips one,
//     uffd_disable_fault_around), the scan categories and arming that registering the VMA would
//     change (the model re-runs the scan so: PredictedStep.wpAllowed.reg), return
//     codes of uffd ioctls and scans over it (mwriteprotect_range's -ENOENT, CHECK_WPASYNC's
//     -EPERM) and uffd events of ops over it (the unmap/remap/fork events only registered VMAs
//     deliver);
//   registration of a VMA the reference HAS registered: a uffd ioctl failing as if it were not;
//   WP-allowed (scan ops): the pages whose categories or arming, and the return code, change when
//     the decision is flipped (the model re-runs the scan: PredictedStep.wpAllowed).
// Called by the check (src/check/check.ts) for a diverging trace.
import { own } from '../ops/records.ts';
import type { PredictedStep } from '../model/api.ts';
import type { Case } from '../ops/schema.ts';
import { BIT_LETTERS, type Trace } from '../ops/trace.ts';
import type { Violation } from './types.ts';

/** the rule of PAGEMAP_SCAN's per-VMA WP-allowed decision */
export const WP_ALLOWED_RULE = 'R-PMS-1';

/** What a decision rule decides, for signatures and titles. */
export function decisionKind(rule: string): 'wp-allowed' | 'registration' {
  return rule === WP_ALLOWED_RULE ? 'wp-allowed' : 'registration';
}

/** pagemap bits a VMA's registration decides for its pages (see above) */
const REG_BITS = new Set(['W', 'P']);
/** ops whose present bits it decides: fork (vma_needs_copy copies the page tables of a uffd-wp
 *  VMA) and a read fault (no fault-around in one, uffd_disable_fault_around) */
const REG_P_OPS = new Set(['fork', 'read']);
/** ops whose uffd events only a registered VMA delivers: EVENT_UNMAP, EVENT_REMAP, EVENT_FORK (a
 *  fault's wp_fault event is the fault's business) */
const REG_EVENT_OPS = new Set(['munmap', 'mremap', 'fork']);
/** uffd ioctls that fail on a VMA that is not registered */
const REG_IOCTLS = new Set(['wp', 'uffd_unregister']);
/** ops whose return code a VMA's registration decides: the uffd ioctls, PAGEMAP_SCAN with
 *  CHECK_WPASYNC (-EPERM on a VMA that is not WP-allowed), and mremap (a uffd-armed VMA moves only
 *  alone, covering the whole range: EFAULT otherwise, measured on 6.18; R-MRM-10) */
const REG_RC_OPS = new Set(['wp', 'uffd_unregister', 'uffd_register', 'scan', 'mremap']);

/** the decision of ops that unregister VMAs, and whose rule the model applies only to entries of
 *  VMAs they unregister (uffd_wp_range(..., false) in userfaultfd_clear_vma): the step applying it
 *  to a page is the step deciding that page's registration. Not fork or mremap: R-FORK-1 also
 *  names the page tables fork leaves uncopied in a VMA that was never registered */
const STEP_DECISION: Partial<Record<string, string>> = { uffd_unregister: 'R-UNREG-1', close_uffd: 'R-CLOSE-1' };

/** The registration decision of the VMA a uffd ioctl failed on in the reference: the model names
 *  that VMA's registration history before the ioctl's rule (Machine.rcWhy) — the VMA the ioctl
 *  acted on, also when the acting process reaches another's mm through an inherited fd. */
function wpFailedOn(ps: PredictedStep): string | undefined {
  return ps.rc !== 0 && ps.rcRules && ps.rcRules.length > 1 ? ps.rcRules[ps.rcRules.length - 2] : undefined;
}

const unregisteredBy = (d: string | undefined) => (d?.startsWith('-') ? d.slice(1) : undefined);

/** The hidden decision behind one violation at its step, or undefined. */
export function decisionOf(v: Violation, ps: PredictedStep, c: Case, flips: FlipsHold = { wpAllowed: true, reg: true }): string | undefined {
  const wpa = ps.wpAllowed;
  const inScan = !!wpa && v.region === wpa.region && v.proc === scanProc(c, v.step) && v.page !== undefined;
  const scanned = inScan && flips.wpAllowed ? wpa!.pages[v.page!] ?? '' : '';
  const regScanned = inScan && (flips.reg === true || flips.reg.has(v.page!)) ? wpa!.reg[v.page!] ?? '' : '';
  const pageReg = v.page === undefined || v.proc === undefined || v.region === undefined ? undefined : own(own(ps.reg, String(v.proc)), v.region)?.[v.page];
  switch (v.kind) {
    case 'bit': {
      if (v.bit === 'W' && scanned.includes('W')) return WP_ALLOWED_RULE;
      // the decision rule is itself what the step applied to the page (e.g. UFFDIO_REGISTER's VMA
      // split, which zaps a shmem PMD mapping): any bit it changed there is the decision's
      const decidedBy = pageReg?.slice(1);
      if (decidedBy && v.rule === decidedBy) return decidedBy;
      // the same when the step is itself a registration decision (STEP_DECISION) and applied it to
      // the page: a wp bit or marker UFFDIO_UNREGISTER or close() should have reset there is that
      // decision's, also where the VMA it changed then merged with a neighbour and took the
      // neighbour's older decision as the VMA's last (vma_modify_flags_uffd merges; Vma.regWhy is
      // per VMA): B-18's unregister of a VMA a partial register had split was named R-REG-1
      // (only the wp bit it resets: a soft-dirty or swap bit at the step is the VMA merge's or the
      // read-out's, whichever op made it)
      if (v.bit === 'W' && v.expected === '0' && v.rule !== undefined && v.rule === STEP_DECISION[v.op]) return v.rule;
      // an mremap the reference stops at a registered VMA (the uffd-armed gate): which pages moved
      // is that registration's decision
      // — on a page the trace shows left behind: an empty one in a VMA (its VMA moved or not is
      // all there is to see; an address outside any VMA is pagemap's read-out alone), or one the trace no longer shows present where the reference moved it; a
      // page-holding entry that moved in both is the move's own business (e.g. its soft-dirty bit)
      // (the reference's walk stops at the first registered VMA in address order, mm/mremap.c
      // remap_move; the walks differ first at the VMA of the lowest page the step diverges on: one
      // the reference moved, not registered there, is a VMA the kernel found registered and
      // stopped at — its decision —, else the VMA the reference stopped at, its first registered)
      const gate = v.op === 'mremap' && ps.rc === 'EFAULT' && v.entry !== 'gap' && (!entryHoldsPage(v.entry) || flips.leftBehind?.has(pageKey(v)))
        ? unregisteredBy(flips.firstDiverging?.reg) ?? ps.opReg?.find((d) => d.startsWith('+'))?.slice(1) : undefined;
      if (gate) return gate;
      // a write-protect the reference stops at an unregistered VMA (ENOENT, mwriteprotect_range):
      // a registered page holding an entry that it leaves unprotected was never reached — had it
      // been, uffd_wp_range would have set its bit — so a kernel protecting it went on past a
      // VMA it found registered: that VMA's registration decision (the rc's, below). The same for
      // an un-protect: a registered page it leaves protected (an entry's bit or a uffd-wp marker,
      // which uffd_wp_range(..., false) clears or drops) was never reached either
      if (v.op === 'wp' && v.bit === 'W' && pageReg?.startsWith('+')) {
        const on = (c.ops[v.step] as { on?: boolean } | undefined)?.on;
        if (on ? v.expected === '0' && entryHoldsPage(v.entry) : v.expected === '1' && v.actual === '0') {
          const d = wpFailedOn(ps);
          if (d) return d;
        }
      }
      // UFFDIO_REGISTER changes no entry itself: the only entries it changes are those of a huge
      // PMD its VMA split cuts (__split_vma -> vma_adjust_trans_huge -> split_huge_pmd_if_needed,
      // mm/huge_memory.c). A page of a VMA the register cut (R-REG-1 its last decision) whose entry
      // class the trace shows as it was before the op (a present, swap, file or exclusive bit:
      // the huge zero folio is PM_FILE, its zero-page PTEs are not) is a PMD the kernel did not
      // split: it made no VMA boundary there, the registration extent decision. Not the uffd-wp
      // and soft-dirty bits: the split hands those to the PTEs by its own rule (R-SPLIT-1:
      // soft-dirty from the PMD's dirty bit too), and a split getting them wrong leaves them as
      // they were (B-30) — the split's bug, not the decision's
      if (v.op === 'uffd_register' && v.bit !== 'W' && v.bit !== 'D' && pageReg?.slice(1) === 'R-REG-1' && flips.asBefore?.has(`${pageKey(v)}:${v.bit}`)) return 'R-REG-1';
      if (v.bit === 'P' && !REG_P_OPS.has(v.op)) return undefined;
      // a uffd-wp bit the reference keeps on a VMA it has not registered (a guard marker's swp
      // uffd-wp bit outlives the registration: R-GRD-6) is not the registration's to lose: being
      // registered keeps protection, it never drops it — only a bit the reference dropped with the
      // registration (unregister, fork or mremap without the event) is the decision's
      if (v.bit === 'W' && v.expected !== '0') return undefined;
      return REG_BITS.has(v.bit) ? unregisteredBy(pageReg) : undefined;
    }
    case 'scan':
      if (scanned.includes(v.actual === '-' || v.expected === '-' ? '-' : v.bit)) return WP_ALLOWED_RULE;
      // what registering the VMA would change (the model re-ran the scan so)
      return (regScanned.includes(v.actual === '-' || v.expected === '-' ? '-' : v.bit)) ? unregisteredBy(pageReg) : undefined;
    case 'rc': {
      if (wpa?.rc && flips.wpAllowed) return WP_ALLOWED_RULE;
      if (!REG_RC_OPS.has(v.op)) return undefined;
      // a uffd ioctl the reference fails on a VMA it has not registered
      if (REG_IOCTLS.has(v.op) && v.expected !== '0') { const d = wpFailedOn(ps); if (d) return d; }
      // CHECK_WPASYNC's EPERM where the reference scans on is a VMA the kernel found not
      // registered that the reference registered, and the other way round: never a decision the
      // other way (an unregistered VMA fails the reference's scan too)
      if (v.op === 'scan') {
        const want = v.expected === '0' ? '+' : '-';
        return ps.opReg?.filter((d) => d.startsWith(want)).pop()?.slice(1);
      }
      // mremap moves VMA by VMA in address order and stops at the first uffd-armed one (mm/mremap.c
      // remap_move): the VMAs before it moved alike in both, so where the kernel stopped is the
      // VMA of the lowest page the step diverges on — that VMA's registration decision
      if (v.op === 'mremap' && v.expected === '0' && flips.firstDiverging) {
        const d = unregisteredBy(flips.firstDiverging.reg);
        if (d) return d;
      }
      const off = ps.opReg?.map(unregisteredBy).filter((x) => x !== undefined).pop();
      if (off) return off;
      // a registered VMA the ioctl treats as unregistered
      const on = ps.opReg?.filter((d) => d.startsWith('+')).pop();
      return on && REG_IOCTLS.has(v.op) && v.expected === '0' ? on.slice(1) : undefined;
    }
    case 'event':
      return REG_EVENT_OPS.has(v.op) ? ps.opReg?.map(unregisteredBy).filter((x) => x !== undefined).pop() : undefined;
  }
}

/** the process a scan op acts in */
export const scanProc = (c: Case, step: number) => (c.ops[step] as { proc?: number } | undefined)?.proc ?? 0;

/** Whether each re-run of a scan with a decision flipped (PredictedStep.wpAllowed: the WP-allowed
 *  decision, and the registration) is borne out by the trace at that step. */
export interface FlipsHold {
  wpAllowed: boolean;
  reg: ReadonlySet<number> | true;
  /** pages (pageKey) the reference shows present and the trace does not */
  leftBehind?: ReadonlySet<string>;
  /** at a UFFDIO_REGISTER step, the bits (`pageKey:letter`) the trace shows as it did at the step
   *  before: what the kernel left as it was */
  asBefore?: ReadonlySet<string>;
  /** the lowest page of the op's own region the step diverges on (in the acting process), with
   *  its VMA's registration decision before the op (the previous step's observation: the op may
   *  move and merge VMAs) */
  firstDiverging?: { page: number; reg: string | undefined };
}

const pageKey = (v: Violation) => `${v.proc}:${v.region}:${v.page}`;

/**
 * A flipped decision explains a scan only if the trace bears it out. The WP-allowed decision is
 * one per VMA and the re-run flips it for every scanned VMA (as a kernel getting it wrong does):
 * the trace must show EVERY category it changes (each page and letter the re-run changes, `-`:
 * whether the page is reported, must diverge at this step; the return code too if it changes),
 * and at least one divergence must be one an entry-level bug of an empty entry could not make: a
 * changed return code or WPALLOWED category, a page reported or armed that the reference's gate
 * skips, or a page-holding entry. Else a kernel that forgets to arm or report pte_none entries on a
 * WP-allowed VMA — different from the reference on those pages only, exactly as a VMA found not
 * WP-allowed would be when they are all it has — was bucketed as the WP-allowed
 * decision. The registration re-run registers every VMA a recorded decision left unregistered,
 * though a wrong decision may concern one of them: it is checked page by page (every letter it
 * changes at the page diverges).
 */
function flipHolds(changed: Record<number, string>, rcChanges: boolean, atStep: readonly Violation[], proc: number, region: string): boolean {
  const seen = new Map<string, Violation>();
  let rc = false;
  for (const v of atStep) {
    if (v.kind === 'rc') rc = true;
    if (v.proc !== proc || v.region !== region || v.page === undefined) continue;
    if (v.kind === 'scan') seen.set(`${v.page}:${v.actual === '-' || v.expected === '-' ? '-' : v.bit}`, v);
    else if (v.kind === 'bit' && v.bit === 'W') seen.set(`${v.page}:W`, v);
  }
  if (rcChanges && !rc) return false;
  let witness = rcChanges;
  for (const [page, letters] of Object.entries(changed)) {
    for (const ch of letters) {
      const v = seen.get(`${page}:${ch}`);
      // arming ('W') shows only where it changes a bit the page does not already have
      if (!v) { if (ch === 'W') continue; return false; }
      if (ch === 'a' || (ch === '-' && v.expected === '-') || (ch === 'W' && v.actual === '1') || entryHoldsPage(v.entry)) witness = true;
    }
  }
  return witness;
}

/** The pages of a scan whose registration re-run (PredictedStep.wpAllowed.reg) the trace bears
 *  out: every letter it changes there diverges. */
function regFlipPages(changed: Record<number, string>, atStep: readonly Violation[], proc: number, region: string): Set<number> {
  const seen = new Set<string>();
  for (const v of atStep) if (v.kind === 'scan' && v.proc === proc && v.region === region && v.page !== undefined) seen.add(`${v.page}:${v.actual === '-' || v.expected === '-' ? '-' : v.bit}`);
  const out = new Set<number>();
  for (const [page, letters] of Object.entries(changed)) if ([...letters].every((ch) => ch === 'W' || seen.has(`${page}:${ch}`))) out.add(Number(page));
  return out;
}

/** Bits that an entry without a page decides by pagemap's read-out alone: every bit of an address
 *  outside any VMA (pagemap_pte_hole: no state an op could have set), and the swap, file and
 *  exclusive bits of a uffd-wp marker (pte_to_pagemap_entry reads them off the marker's type; the
 *  marker itself — its uffd-wp bit — is what the ops create, and a missing or extra marker diverges
 *  in uffd-wp or present first). */
export function readOutOnly(v: Violation): boolean {
  return v.kind === 'bit' && (v.entry === 'gap' || (v.entry === 'marker' && (v.bit === 'S' || v.bit === 'F' || v.bit === 'E')));
}

/** an entry that holds a page (present, the zero page, a swap entry), not pte_none, a uffd-wp or
 *  guard marker (both PTE markers, is_pte_marker: no page behind them), or a gap; the signature's
 *  entry kind (src/findings/signature.ts entryKind) is this */
export const entryHoldsPage = (e: string | undefined) => e !== undefined && e !== 'none' && e !== 'marker' && e !== 'guard' && e !== 'gap';

/** The pagemap bits of violations at `step` that the trace shows as at its last observation of the
 *  page before the step (FlipsHold.asBefore). */
function keptAsBefore(atStep: readonly Violation[], trace: Trace, step: number): Set<string> {
  const out = new Set<string>();
  for (const v of atStep) {
    if (v.kind !== 'bit' || v.proc === undefined || v.region === undefined || v.page === undefined) continue;
    const k = (BIT_LETTERS as readonly string[]).indexOf(v.bit);
    let before: string | undefined;
    let at = -1;
    for (const s of trace.steps) {
      const str = s.op < step && s.op > at ? own(own(s.pages, String(v.proc)), v.region)?.[v.page] : undefined;
      if (str !== undefined) { before = str; at = s.op; }
    }
    const was = before?.[k];
    if (was !== undefined && was !== '?' && (was === '.' ? '0' : '1') === v.actual) out.add(`${pageKey(v)}:${v.bit}`);
  }
  return out;
}

/** Give every violation the decision behind it, where there is one (in place). */
export function assignDecisions(vs: Violation[], steps: readonly PredictedStep[], c: Case, trace?: Trace): void {
  const byStep = new Map<number, Violation[]>();
  for (const v of vs) { const l = byStep.get(v.step); if (l) l.push(v); else byStep.set(v.step, [v]); }
  for (const [step, atStep] of byStep) {
    const ps = steps[step];
    if (!ps) continue;
    const wpa = ps.wpAllowed;
    const flips: FlipsHold = wpa
      ? { wpAllowed: flipHolds(wpa.pages, wpa.rc, atStep, scanProc(c, step), wpa.region), reg: regFlipPages(wpa.reg, atStep, scanProc(c, step), wpa.region) }
      : { wpAllowed: true, reg: true };
    flips.leftBehind = new Set(atStep.filter((v) => v.kind === 'bit' && v.bit === 'P' && v.expected === '1' && v.actual === '0').map(pageKey));
    const op = c.ops[step];
    if (op?.op === 'uffd_register' && trace) flips.asBefore = keptAsBefore(atStep, trace, step);
    // only a failing mremap asks where the step first diverges (decisionOf's rc case)
    if (op?.op === 'mremap') {
      const proc = op.proc ?? 0;
      const pages = atStep.filter((v) => v.proc === proc && v.region === op.region && v.page !== undefined).map((v) => v.page!);
      if (pages.length) {
        const page = Math.min(...pages);
        flips.firstDiverging = { page, reg: own(own(steps[step - 1]?.reg, String(proc)), op.region)?.[page] };
      }
    }
    for (const v of atStep) {
      const d = decisionOf(v, ps, c, flips);
      if (d) v.decision = d;
    }
    // a scan's return code is pinned on a registration by the VMAs it covers alone (nothing re-runs
    // it): it does not outweigh page divergences at the step that no decision explains — a scan
    // that counts differently (max_pages) reaches a VMA the reference never reached
    const rc = atStep.find((v) => v.kind === 'rc' && v.op === 'scan' && v.decision !== undefined && v.decision !== WP_ALLOWED_RULE);
    if (rc && atStep.some((v) => v.kind !== 'rc' && v.decision === undefined && !readOutOnly(v))) delete rc.decision;
  }
}
