// What a worker's heartbeat says about its target (workers/worker.ts `caps`): the TargetInfo a
// coordinator that cannot open the target itself works from. Used by the NATS campaign driver
// (src/campaign/nats-campaign.ts: the page geometry and capabilities to generate for) and
// `matrix --nats` (src/matrix/farm.ts: capabilities and geometry).
import type { WorkerBeat } from './nats-common.ts';
import type { Capabilities, HostSettings, TargetInfo } from '../ops/trace.ts';

/** TargetInfo from a worker's announced caps (arch, kernel, the capability booleans, page_size and
 *  pmd_size when not 4 KiB / 2 MiB); anything else in caps is ignored. `unannounced`: the value of
 *  a base capability (soft_dirty ... thp) the worker does not announce: false for the matrix (its
 *  cells are unsupported, never guessed), true for the generator (a worker that says nothing keeps
 *  the defaults: src/campaign/target-fit.ts generateOptionsFor only narrows on an announced false). */
export function infoFromBeat(spec: string, b: WorkerBeat, unannounced = false): TargetInfo {
  const caps = b.caps && typeof b.caps === 'object' ? b.caps : {};
  const u = unannounced;
  const capabilities: Capabilities = { soft_dirty: u, uffd_wp: u, wp_async: u, pagemap_scan: u, swap: u, thp: u };
  for (const [k, v] of Object.entries(caps)) if (typeof v === 'boolean') capabilities[k] = v;
  const host: HostSettings = {};
  if (typeof caps.page_size === 'number') host.page_size = caps.page_size;
  if (typeof caps.pmd_size === 'number') host.pmd_size = caps.pmd_size;
  return {
    name: spec, arch: typeof caps.arch === 'string' ? caps.arch : '?', kernel: typeof caps.kernel === 'string' ? caps.kernel : '?',
    capabilities, ...(Object.keys(host).length ? { host } : {}),
  };
}
