// Whether the compiled JavaScript in dist/ can stand for the TypeScript sources: used by the
// launcher (bin/ptefarm.mjs) to choose between dist/ and tsx, and by the benchmark and tests to
// say which one they measured. `npm run build` writes dist/.built after a successful compile.
import { readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const mtime = (path) => statSync(path, { throwIfNoEntry: false })?.mtimeMs;

/** why dist/ under the package root `rootUrl` (a file: URL ending in /) cannot be run, or undefined
 *  when it can: built, complete, and no .ts file under src/ or workers/ newer than the build
 *  (about 2 ms for the ~80 sources) */
export function distProblem(rootUrl) {
  const root = fileURLToPath(rootUrl);
  const built = mtime(`${root}dist/.built`);
  if (built === undefined) return 'not built';
  if (mtime(`${root}dist/src/cli/main.js`) === undefined) return 'dist/src/cli/main.js is missing';
  for (const dir of ['src/', 'workers/']) {
    let files;
    try { files = readdirSync(root + dir, { recursive: true }); } catch { continue; }
    for (const f of files) {
      if (f.endsWith('.ts') && (mtime(root + dir + f) ?? 0) > built) return `${dir}${f} is newer than the build`;
    }
  }
  return undefined;
}
