// Types of bin/dist-state.mjs for the TypeScript that imports it (bench, tests).
export function distProblem(rootUrl: URL): string | undefined;
