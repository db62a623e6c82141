// Page strings of one region written as runs of equal strings ("0-287:.....D 288:P.FE.D"): how the
// model tests state a 512-page region's expected bits in one readable line. Used by test/model's
// shmem THP tests (pageout-shmem-folio, shmem-swapin, async-wp-shmem-pmd).

/** runs of equal strings: "0-153:.....D 154:P.FE.D" */
export function pageRuns(xs: readonly string[]): string {
  const out: string[] = [];
  for (let i = 0; i < xs.length;) {
    let j = i;
    while (j + 1 < xs.length && xs[j + 1] === xs[i]) j++;
    out.push(`${i === j ? i : `${i}-${j}`}:${xs[i]}`);
    i = j + 1;
  }
  return out.join(' ');
}
