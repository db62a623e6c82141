// Whether the compiled JavaScript in dist/ can stand for the TypeScript sources: used by the
// launcher (bin/ptefarm.mjs) to choose between dist/ and tsx, and by the benchmark and tests to
// say which one they measured. `npm run build` writes dist/.built after a successful compile.
import { readdirSync, statSync } from 'node:fs';

const mtime = (url) => { try { return statSync(url).mtimeMs; } catch { return undefined; } };

/** why dist/ under the package root `root` (a file: URL ending in /) cannot be run, or undefined
 *  when it can: built, complete, and no .ts file under src/ or workers/ newer than the build */
export function distProblem(root) {
  const built = mtime(new URL('dist/.built', root));
  if (built === undefined) return 'not built';
  if (mtime(new URL('dist/src/cli/main.js', root)) === undefined) return 'dist/src/cli/main.js is missing';
  for (const dir of ['src/', 'workers/']) {
    let files;
    try { files = readdirSync(new URL(dir, root), { recursive: true }); } catch { continue; }
    for (const f of files) {
      if (f.endsWith('.ts') && (mtime(new URL(dir + f, root)) ?? 0) > built) return `${dir}${f} is newer than the build`;
    }
  }
  return undefined;
}
