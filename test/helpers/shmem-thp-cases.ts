// Case text shared by the shmem THP swap-in tests, model (test/model/shmem-swapin,
// pageout-shmem-folio) and live (test/targets/live-shmem-swapin): one statement of the scenario
// they each check from their side.

/** The README campaign's seed-12 finding made deterministic, a page table left at the PMD: the
 *  THP is mapped by PTEs (the mprotect splits the VMA, so the reads cannot map a PMD; mprotect back
 *  merges it), then paged out whole (R-PO-2: one batch). Steps: 2 collapse, 7 pageout. */
export const pteMappedPagedOut = (kind: string) => `mmap a pages=512 kind=${kind} thp
  read a[472]
  collapse a
  mprotect a[511] prot=r
  read a[0]
  mprotect a[511] prot=rw
  read a[100]
  pageout a`;
