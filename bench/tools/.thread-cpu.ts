// scratch (not committed): per-thread CPU of the worker process during a NATS campaign
import { readFileSync, readdirSync } from 'node:fs';
import { runCampaign } from '../../src/campaign/campaign.ts';
import { referenceChecker } from '../../src/campaign/checker.ts';
import { startNats, startWorker } from '../lib/nats.ts';
import { NatsTransport } from '../../src/transport/nats.ts';
const cases = Number(process.argv[2] ?? 600);
const conc = Number(process.argv[3] ?? 2);
const nats = await startNats();
const worker = await startWorker(nats.url, 'model:x86', 2);
const { EmbeddedTransport } = await import('../../src/transport/embedded.ts');
const t: any = process.argv[4] === 'emb' ? new EmbeddedTransport({ threads: 2 }) : await NatsTransport.connect(nats.url, {}, { campaign: `tc-${process.pid}`, concurrency: conc });
const checker = await referenceChecker();
const threads = (pid: number) => Object.fromEntries(readdirSync(`/proc/${pid}/task`).map((tid) => {
  const st = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
  const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
  const name = st.slice(st.indexOf('(') + 1, st.lastIndexOf(')'));
  return [`${tid}:${name}`, (Number(f[11]) + Number(f[12])) * 10];
}));
await runCampaign({ target: 'model:x86', transport: t, checker, seed: 2, cases: 100, minimize: false });
const a = threads(worker.proc.pid!), sa = threads(nats.proc.pid!), ca = threads(process.pid);
const s = await runCampaign({ target: 'model:x86', transport: t, checker, seed: 1, cases, minimize: false });
const b = threads(worker.proc.pid!), sb = threads(nats.proc.pid!), cb = threads(process.pid);
const diff = (x: Record<string, number>, y: Record<string, number>) => Object.entries(y).map(([k, v]) => [k, ((v - (x[k] ?? 0)) / s.cases).toFixed(2)]).filter(([, v]) => Number(v) > 0.01);
console.log(JSON.stringify({ cps: s.cases_per_s, stats: t.stats?.messages, worker: diff(a, b), server: diff(sa, sb).reduce((z, [, v]) => z + Number(v), 0).toFixed(2), coord: diff(ca, cb) }));
await t.close(); await worker.stop(); await nats.stop();
