// `ptefarm qemu fetch <image>`: build a guest image (kernel from Debian's archive via apt, its config,
// an initramfs with the executor built statically for the guest arch), cached outside the repo.
// `ptefarm qemu info <image>`: boot it, print the guest's probe, masked capabilities and timings.
// `ptefarm qemu list`: the named images and whether they are fetched.
import type { Command } from 'commander';
import { guarded } from '../io.ts';
import { cacheRoot, fetchImage, NAMED_IMAGES, resolveImage } from '../../targets/qemu/images.ts';
import { maskedCapabilities, QemuTarget } from '../../targets/qemu.ts';
import { capabilitiesOf } from '../../targets/probe.ts';
import { formatProbe } from './probe.ts';

export function register(program: Command): void {
  const q = program.command('qemu').description('QEMU guest kernels as targets (`--target qemu:<image>`)');

  q.command('fetch')
    .description('download and build a guest image (idempotent); <image> is a named image or kernel=PATH,arch=ARCH[,config=PATH]')
    .argument('<image...>', `image(s): ${Object.keys(NAMED_IMAGES).join(', ')}`)
    .action((images: string[]) => guarded(async () => {
      for (const spec of images) {
        const img = await fetchImage(spec);
        process.stdout.write(`${spec}: ${img.dir}${img.release ? ` (kernel ${img.release})` : ''}\n`);
      }
      return 0;
    }));

  q.command('list')
    .description('named images and whether they are fetched')
    .action(() => guarded(async () => {
      process.stdout.write(`cache: ${cacheRoot()}\n`);
      for (const [name, n] of Object.entries(NAMED_IMAGES)) {
        let state: string;
        try { const img = resolveImage(name); state = `fetched (kernel ${img.release})`; } catch { state = 'not fetched'; }
        process.stdout.write(`${name.padEnd(20)} ${n.arch.padEnd(6)} ${n.meta.padEnd(24)} ${state}\n`);
      }
      return 0;
    }));

  q.command('info')
    .description('boot the image and report what the guest can run and show')
    .argument('<image>')
    .option('--json', 'JSON output')
    .action((spec: string, o: { json?: boolean }) => guarded(async () => {
      const t = new QemuTarget(spec);
      try {
        const p = await t.probeResult();
        const masked = maskedCapabilities(capabilitiesOf(p));
        if (o.json) process.stdout.write(JSON.stringify({ ...p, masked, boot_ms: t.boot?.bootMs, guest: t.boot?.guest }, null, 2) + '\n');
        else {
          process.stdout.write(formatProbe(p, t.name));
          process.stdout.write(`masked (not shown or skipped): ${masked.length ? masked.join(', ') : 'none'}\n`);
          process.stdout.write(`boot to a probed executor: ${t.boot?.bootMs} ms\n`);
          process.stdout.write(`guest: ${Object.entries(t.boot?.guest ?? {}).map(([k, v]) => `${k}=${v}`).join(' ')}\n`);
        }
      } finally { await t.close(); }
      return 0;
    }));
}
