// What the reference model promises its callers (check, targets, campaign). The implementation is
// src/model/model.ts; this file is types only so callers can be written against it.
import type { Outcome, PageMap, UffdEvent } from '../ops/trace.ts';

/** Entry class of a page, used in violation signatures. */
export type EntryClass = 'none' | 'pte' | 'zero' | 'huge' | 'huge-zero' | 'pte-thp' | 'swap' | 'marker' | 'guard' | 'gap';

export interface PredictedStep {
  op: number;
  rc: 0 | string;
  /** proc -> region -> six-letter strings, as a full trace would show them */
  pages: PageMap;
  /** proc -> region -> per page, per bit position (P S F E W D), the rule ids behind that bit
   *  (filled only with ModelOptions.attribution) */
  why: Record<string, Record<string, string[][][]>>;
  /** proc -> region -> per page entry class */
  entry: Record<string, Record<string, EntryClass[]>>;
  /** content oracle (src/model/content.ts): proc -> region -> the value each page reads, null
   *  where the model maps no page; and the rules that decided each value */
  content?: import('../ops/trace.ts').ContentMap;
  contentWhy?: Record<string, Record<string, (string[] | null)[]>>;
  /** PAGEMAP_SCAN categories for scan ops (absent for a scan without output vector) */
  scan?: PageMap;
  /** PAGEMAP_SCAN's walk_end for scan ops, as a page of the scanned region */
  walkEnd?: number;
  events: UffdEvent[];
  /** rule ids this op exercised (coverage) */
  rules: string[];
  /** rules behind the return code when more than the op's own (e.g. the registration behind ENOENT) */
  rcRules?: string[];
  /** Provenance of hidden per-VMA decisions (filled only with ModelOptions.attribution): what set
   *  up a state no pagemap bit shows, so that a divergence it causes is bucketed by that decision
   *  (src/check/decisions.ts). `reg`: proc -> region -> per page, the uffd-wp registration of the
   *  page's VMA and the rule that last decided it (`+R-REG-1` registered by it, `-R-FORK-1` left or
   *  made unregistered by it; undefined: never decided). `opReg`: the same for the VMAs the op acted
   *  on, taken before it (its region's, or all of the process's for an op without one). `wpAllowed`
   *  (scan ops): per page of the scanned region, what changes when the WP-allowed decision of its
   *  registered VMA is flipped (R-PMS-1, pagemap_scan_test_walk): the scan letters of the categories
   *  that change (`-` when whether the page is reported at all does), and `W` when its arming does;
   *  and whether the return code changes; `reg`: the same per page when the VMAs a recorded decision
   *  left unregistered are registered instead; `why`: the scan's per-page provenance (scan.ts
   *  ScanPageWhy: the rules that decided each page's categories, reporting and arming), for pages
   *  `offset` on of the scanned region. */
  reg?: Record<string, Record<string, (string | undefined)[]>>;
  opReg?: string[];
  wpAllowed?: { region: string; pages: Record<number, string>; rc: boolean; reg: Record<number, string>; why?: { offset: number; pages: import('./scan.ts').ScanPageWhy[] } };
  /** the op was not executed (its process is gone, or the target skipped it) */
  skipped?: string;
  /** the outcome the model applied (from the trace, or neutral) */
  outcome: Outcome;
}

export interface Prediction {
  steps: PredictedStep[];
  /** what the model assumed where the trace did not say (e.g. a read's zero-page outcome inferred
   *  from the observation); shown with the verdict */
  assumptions: string[];
}

export interface ModelOptions {
  /** kernel profile name, e.g. "6.18" (default) */
  profile?: string;
  /** mutant id (e.g. "B-3", "M-9"): the reference with that one rule changed */
  mutant?: string;
  /** compute the rules behind every predicted bit (costly; the check asks only on divergence) */
  attribution?: boolean;
  /** the target's page geometry (default 4 KiB pages, 2 MiB PMD): page numbers and PMD blocks
   *  count its pages (docs/page-size.md) */
  geometry?: import('../ops/layout.ts').PageGeometry;
  /** knobs a host setting decides, over the profile's (profile.ts hostKnobs) */
  knobs?: Partial<import('./profile.ts').Knobs>;
  /** read every page again after every op instead of only what the op changed (src/model/observe.ts):
   *  the same prediction, slower; the reference test/model/observe-skip.test.ts compares against */
  observeEveryPage?: boolean;
}

/** Outcomes per op index as reported by a trace; `undefined` entries (or no array) = neutral:
 *  every THP-eligible fault/collapse gets a huge mapping, every reclaimable page is swapped out. */
export type OutcomeSource = ReadonlyArray<Outcome | undefined> | undefined;
