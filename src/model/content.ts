// The content oracle of the reference model: what each page holds, kept on the backing page itself
// (an anon page, or a shmem/memfd page-cache page: state.ts Page), so that sharing (fork, shared
// mappings, the page cache) and copying (CoW, collapse) fall out of the page identities the machine
// already tracks. Only the first 8 bytes matter: a write op stores writeValue(op, page) there (the
// executor's content_value, workers/executor/ptefarm-content.h). The machine (machine.ts) calls
// the hooks below where a page's content is decided; observe.ts (Observer) reads contentOf and the
// history of every mapped page after every step; the check (src/check/check.ts) compares it with
// what each process read back.
import type { Rule } from './rules.ts';
import { blockOf, HPAGE_PAGES, Page, whyOf, type Proc } from './state.ts';

export const CONTENT_RULES: Rule[] = [
  { id: 'R-DATA-1', text: 'a write stores its value in the page the write fault left mapped (after a CoW copy, a reuse, a swap-in or a resolved uffd-wp fault); a populate write stores nothing', source: 'mm/memory.c handle_mm_fault, do_wp_page; mm/gup.c faultin_page (populate)' },
  { id: 'R-DATA-2', text: 'a page the fault allocates fresh reads zero: an anon fault (4 KiB or THP), the zero page, a new shmem/memfd page-cache page', source: 'mm/memory.c do_anonymous_page (vma_alloc_zeroed_movable_folio), mm/huge_memory.c vma_alloc_anon_folio_pmd, mm/shmem.c shmem_alloc_and_add_folio (clear_highpage)' },
  { id: 'R-DATA-3', text: 'a CoW copies the content of the page it replaces (the zero page: zeroes), a private file fault copies the page-cache page', source: 'mm/memory.c wp_page_copy (__wp_page_copy_user), do_cow_fault (copy_mc_user_highpage)' },
  { id: 'R-DATA-4', text: 'a shmem/memfd page keeps its content in the page cache whatever happens to the PTEs mapping it: unmap, MADV_DONTNEED, a PMD split, swap-out to swap and back', source: 'mm/shmem.c shmem_writeout, shmem_swapin_folio, shmem_get_folio_gfp' },
  { id: 'R-DATA-5', text: 'an anon page swapped out keeps its content in the swap slot; swap-in maps it back (the same page while it stays in the swap cache)', source: 'mm/memory.c do_swap_page, mm/vmscan.c shrink_folio_list (pageout)' },
  { id: 'R-DATA-6', text: 'MADV_COLLAPSE copies every small page into the new huge page; a none or zero-page PTE becomes a zero-filled subpage', source: 'mm/khugepaged.c __collapse_huge_page_copy, collapse_file' },
  { id: 'R-DATA-7', text: 'MADV_DONTNEED drops private anon pages (the next fault zero-fills) and a private file mapping\'s CoW copies (the next fault maps the page-cache page again)', source: 'mm/memory.c zap_pte_range, do_anonymous_page, do_read_fault' },
  { id: 'R-DATA-8', text: 'fork shares every page with the child: both read the same values until one writes (CoW, R-DATA-3)', source: 'mm/memory.c copy_present_ptes, copy_nonpresent_pte' },
];

/** The value a write op (case op index `op`) stores at page `page` of its region: never 0. */
export function writeValue(op: number, page: number): number {
  return (op + 1) * 65536 + page;
}

/** A value read back as text for a message: 0 is zero-filled; a case's write is named by its op
 *  and page (src/model/content.ts writeValue). */
export function describeValue(x: number): string {
  if (x === 0) return '0 (zero-filled)';
  if (x < 0) return 'a value beyond 2^53 (no write of the case)';
  const op = Math.floor(x / 65536) - 1, page = x % 65536;
  return op >= 0 ? `${x} (op ${op}'s write at page ${page})` : `${x} (no write of the case)`;
}

/** The content of a page (its first 8 bytes): 0 for the zero page and for a page no write reached. */
export function contentOf(page: Page): number {
  return page.zero ? 0 : page.val ?? 0;
}

/** The rules that decided a page's content, oldest first, from its history (Page.valWhy;
 *  undefined: a fresh page, R-DATA-2). */
export function contentWhy(valWhy: string[] | undefined): string[] {
  return valWhy ?? ['R-DATA-2'];
}

/** R-DATA-1: the write stored `value` in `page`. */
export function storeWrite(page: Page, value: number): void {
  if (page.zero) return;
  page.val = value;
  page.valWhy = whyOf('R-DATA-1');
}

/** A content rule that kept the page's content through an event (a swap-out or swap-in:
 *  R-DATA-4, R-DATA-5): recorded in its history, which names the rule of a wrong value. */
export function keptBy(page: Page, rule: string): void {
  const why = page.valWhy ?? FRESH;
  if (why[why.length - 1] === rule) return;
  // pages sharing one history (a fork's pages after one write op) share the extended one too:
  // histories are never changed once built (as state.ts withRule)
  if (why !== keptIn || rule !== keptRule) { keptIn = why; keptRule = rule; keptOut = [...why.slice(-4), rule]; }
  page.valWhy = keptOut;
}
/** a fresh page's history (contentWhy(undefined)), and keptBy's last input, rule and result */
const FRESH: readonly string[] = contentWhy(undefined);
let keptIn: readonly string[] | undefined, keptRule = '', keptOut: string[] = [];

/** R-DATA-3 / R-DATA-6: `to` is a copy of `from` (undefined: a zero-filled page). */
export function copyContent(from: Page | undefined, to: Page, rule: 'R-DATA-3' | 'R-DATA-6'): void {
  if (!from || from.zero || !from.val) { to.val = 0; to.valWhy = whyOf(rule); return; }
  to.val = from.val;
  to.valWhy = [...contentWhy(from.valWhy).slice(-3), rule];
}

/** The page process p maps at page number i (a present PTE or a huge PMD's subpage), else undefined.
 *  Reads the tables without stamping them (peek): a change to the page it returns stamps the page
 *  itself (state.ts Page setters), which is what the observer's view depends on. */
export function mappedPage(p: Proc, i: number): Page | undefined {
  const pmd = p.pmds.peek(blockOf(i));
  if (pmd?.t === 'huge') return pmd.pages ? pmd.pages[i % HPAGE_PAGES] : new Page(0, true, true, false);
  const e = p.ptes.peek(i);
  return e?.t === 'present' ? e.page : undefined;
}
