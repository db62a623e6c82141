// Where ptefarm's own files are at run time: the package root, the same whether this code runs
// from the TypeScript sources (src/, through tsx or vitest) or compiled (dist/src/, built by
// `npm run build`). Modules that read a file shipped with the package (the C runtime and executor
// headers for repro, the executor binary, scripts/qemu-image.sh, package.json) resolve it here
// rather than relative to their own location, which differs between the two layouts.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** true under tsx/vitest (this module is src/package-root.ts), false in dist/ */
export const FROM_SOURCE = import.meta.url.endsWith('.ts');

/** absolute path of the package root (the directory holding package.json) */
export const PACKAGE_ROOT = fileURLToPath(new URL(FROM_SOURCE ? '..' : '../..', import.meta.url));

/** absolute path of a file shipped with the package, e.g. packagePath('workers', 'executor', 'ptefarm-exec') */
export function packagePath(...parts: string[]): string {
  return join(PACKAGE_ROOT, ...parts);
}
