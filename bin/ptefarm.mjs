#!/usr/bin/env node
// The `ptefarm` launcher. Runs the compiled JavaScript in dist/ (built by scripts/install.sh or
// `npm run build`) when it is up to date with the sources (bin/dist-state.mjs); otherwise (a
// development checkout, or sources edited since the build) it runs the TypeScript sources through
// tsx, which compiles them at every start (seconds instead of a fraction of one), and says so when
// stderr is a terminal (not to tests and scripts, whose stderr is the command's own).
import { distProblem } from './dist-state.mjs';

const root = new URL('../', import.meta.url);
const problem = distProblem(root);
if (problem === undefined) {
  await import(new URL('dist/src/cli/main.js', root).href);
} else {
  if (process.stderr.isTTY) {
    process.stderr.write(`ptefarm: running the TypeScript sources through tsx (dist/: ${problem}); \`npm run build\` for a fast start\n`);
  }
  const { register } = await import('tsx/esm/api');
  register();
  await import(new URL('src/cli/main.ts', root).href);
}
