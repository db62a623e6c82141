// `ptefarm worker --nats URL --target T [--threads K]`: serve one target's jobs from the NATS farm
// until SIGINT/SIGTERM (then finish the jobs in hand, say goodbye and exit 0).
import type { Command } from 'commander';
import { startWorker } from '../../../workers/worker.ts';
import { addNatsAuthOptions, natsAuthFrom, parsePositiveInt, type NatsFlags } from '../../transport/nats-cli.ts';
import { parseDuration } from '../../campaign/config.ts';
import { guarded, warn } from '../io.ts';
import { openCheckedTarget } from '../../targets/registry.ts';

interface WorkerFlags extends NatsFlags { target: string; threads?: number; heartbeat?: string; maxCaseTime?: string }

export function register(program: Command) {
  const cmd = program.command('worker')
    .description('pull cases of one target from a NATS JetStream farm, run them on a thread pool, publish the results')
    .requiredOption('--nats <url>', 'NATS server URL(s), comma-separated, e.g. nats://farm:4222')
    .requiredOption('-t, --target <spec>', 'the target this worker runs: model:x86[+MUTANT], live, exec:CMD')
    .option('-j, --threads <k>', 'worker threads (default: available parallelism)', parsePositiveInt('--threads'))
    .option('--heartbeat <time>', 'heartbeat period: 500ms, 2s (default 2s)')
    .option('--max-case-time <time>', 'cap on any job\'s per-case timeout: 30s, 2m (default 120s)');
  addNatsAuthOptions(cmd).action((o: WorkerFlags) => guarded(async () => {
    // option values first: a bad one is exit 2 before anything starts
    const heartbeatMs = o.heartbeat ? parseDuration(o.heartbeat, 'heartbeat') : undefined;
    const maxCaseMs = o.maxCaseTime ? parseDuration(o.maxCaseTime, 'max-case-time') : undefined;
    // a host the model does not cover is refused before the worker takes any job (exit 2)
    await (await openCheckedTarget(o.target, warn)).close();
    const w = await startWorker({ url: o.nats!, auth: natsAuthFrom(o), target: o.target, threads: o.threads, heartbeatMs, maxCaseMs });
    let signals = 0;
    // first signal: finish the jobs in hand and leave; second: leave now (unacked jobs are redelivered)
    const onSignal = () => { if (++signals > 1) process.exit(130); void w.stop(); };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    await w.done;
    await w.stop();
    return 0;
  }));
}
