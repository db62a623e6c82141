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
/** ops whose return code a VMA's registration decides: the uffd ioctls, and PAGEMAP_SCAN with
 *  CHECK_WPASYNC (-EPERM on a VMA that is not WP-allowed) */
const REG_RC_OPS = new Set(['wp', 'uffd_unregister', 'uffd_register', 'scan']);

const unregisteredBy = (d: string | undefined) => (d?.startsWith('-') ? d.slice(1) : undefined);

/** The hidden decision behind one violation at its step, or undefined. */
export function decisionOf(v: Violation, ps: PredictedStep, c: Case): string | undefined {
  const wpa = ps.wpAllowed;
  const scanned = wpa && v.region === wpa.region && v.proc === ((c.ops[v.step] as { proc?: number } | undefined)?.proc ?? 0) && v.page !== undefined ? wpa.pages[v.page] ?? '' : '';
  const regScanned = wpa && v.region === wpa.region && v.proc === ((c.ops[v.step] as { proc?: number } | undefined)?.proc ?? 0) && v.page !== undefined ? wpa.reg[v.page] ?? '' : '';
  const pageReg = v.page === undefined || v.proc === undefined || v.region === undefined ? undefined : own(own(ps.reg, String(v.proc)), v.region)?.[v.page];
  switch (v.kind) {
    case 'bit':
      if (v.bit === 'W' && scanned.includes('W')) return WP_ALLOWED_RULE;
      if (v.bit === 'P' && !REG_P_OPS.has(v.op)) return undefined;
      return REG_BITS.has(v.bit) ? unregisteredBy(pageReg) : undefined;
    case 'scan':
      if (scanned.includes(v.actual === '-' || v.expected === '-' ? '-' : v.bit)) return WP_ALLOWED_RULE;
      // what registering the VMA would change (the model re-ran the scan so)
      return (regScanned.includes(v.actual === '-' || v.expected === '-' ? '-' : v.bit)) ? unregisteredBy(pageReg) : undefined;
    case 'rc': {
      if (wpa?.rc) return WP_ALLOWED_RULE;
      if (!REG_RC_OPS.has(v.op)) return undefined;
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

/** Give every violation the decision behind it, where there is one (in place). */
export function assignDecisions(vs: Violation[], steps: readonly PredictedStep[], c: Case): void {
  for (const v of vs) {
    const ps = steps[v.step];
    const d = ps ? decisionOf(v, ps, c) : undefined;
    if (d) v.decision = d;
  }
}
