// JSON the CLI prints or stores (summaries, --json events, gate.json) has snake_case keys
// (src/cli/io.ts snakeKeys): this lists the keys of a value that are not, with their paths. A
// case's own content is data (region names), so values under a `case` key are not looked into.
export function notSnake(x: unknown, path = ''): string[] {
  if (Array.isArray(x)) return x.flatMap((v, i) => notSnake(v, `${path}[${i}]`));
  if (!x || typeof x !== 'object') return [];
  return Object.entries(x).flatMap(([k, v]) => [
    ...(/^[a-z0-9_]+$/.test(k) ? [] : [`${path}.${k}`]),
    ...(k === 'case' ? [] : notSnake(v, `${path}.${k}`)),
  ]);
}
