// The matrix CI runs and the README shows: the host next to the Debian kernels `ptefarm qemu fetch`
// provides (x86-64 6.12 and 6.1, arm64 6.12 with 4 KiB and with 16 KiB pages, and x86-64 6.12
// again with anon mTHP 16K+64K on), and the cases per cell that fit the suite's time budget on a 2-core TCG host. Used by scripts/matrix-readme.ts
// (`npm run matrix:readme`) and test/matrix/ci-kernels.test.ts; .ci/run may override the count
// (PTEFARM_MATRIX_CASES).
export const CI_MATRIX_TARGETS = [
  'live',
  'qemu:debian-6.12-amd64',
  'qemu:debian-6.12-arm64',
  'qemu:debian-6.12-arm64-16k',
  'qemu:debian-6.1-amd64',
  // the 6.12 amd64 guest again with anon mTHP sizes on (its init writes them, images.ts parseMthp):
  // the only CI target where the mthp family runs (~1 min more under TCG)
  'qemu:debian-6.12-amd64,mthp=16K+64K',
] as const;

/** generated cases per cell (plus the corpus seeds): 3 x 140 cells is about a minute per guest under TCG
 *  (the hugetlb and mthp cells are unsupported on CI's guests: no reserved huge pages, no `,mthp=`;
 *  the host adds 3 cases in each of up to 46 hugetlb cells when it has free huge pages, about 10 s) */
export const CI_MATRIX_CASES_PER_CELL = 3;

/** threads (and so VMs at once) of the CI matrix: the CI host's 2 cores */
export const CI_MATRIX_THREADS = 2;
