// Types of bin/dist-state.mjs for the TypeScript that imports it (bench, tests).
export function distProblem(root: URL): string | undefined;
