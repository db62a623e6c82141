// The identity of a campaign's case sequence: sha-256 over the canonical JSON of the first N cases
// of a model:x86 campaign (in-process, seed S, no minimization). A change meant to be a pure speed-up
// of generation or transport must leave it unchanged (compare before/after on the same N and S).
// usage: node --import tsx bench/tools/case-sequence-hash.ts [--cases N] [--seed S]
import { createHash } from 'node:crypto';
import { runCampaign } from '../../src/campaign/campaign.ts';
import { referenceChecker } from '../../src/campaign/checker.ts';
import { InProcessTransport } from '../../src/campaign/inprocess.ts';

const arg = (name: string, def: number) => { const i = process.argv.indexOf(name); return i >= 0 ? Number(process.argv[i + 1]) : def; };
const cases = arg('--cases', 1500);
const seed = arg('--seed', 1);
const h = createHash('sha256');
const s = await runCampaign({ target: 'model:x86', transport: new InProcessTransport(), checker: await referenceChecker(), seed, cases, minimize: false, onCase: (i, c) => h.update(`${i} ${JSON.stringify(c)}\n`) });
process.stdout.write(`${JSON.stringify({ seed, cases: s.cases, violations: s.violations, faults: s.faults, rules_hit: s.coverage.rules_hit, sequence: h.digest('hex').slice(0, 32) })}\n`);
