/**
 * Where an empty daemon's start-up time and memory go: starts `bin/trellis`
 * (no bot accounts) with `--cpu-prof` and stops it 1 s after the API
 * answers, then starts it again with `--heapsnapshot-signal` and takes a
 * heap snapshot 5 s after the API answers. Prints the CPU profile's self
 * time by package and the snapshot's size by kind and by constructor. The
 * raw files stay for Chrome DevTools (paths printed).
 *
 *   npm run bench:start-profile
 */
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestDaemon } from '../test/harness/daemon.ts';
import { log, rssKiB, runMain, sleep } from './lib.ts';

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string } }[];
  samples: number[];
  timeDeltas: number[];
}

/** Groups a script URL: an npm package, Trellis's own code, Node's internals, or V8's pseudo-frames. */
function owner(url: string, fn: string): string {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  if (/\/dist\/(src|plugins)\//.test(url)) return `trellis ${/\/dist\/((?:src|plugins)\/[^/]+)/.exec(url)?.[1] ?? ''}`;
  if (url === '') return `(${fn.replace(/[()]/g, '') || 'native'})`;
  if (url.startsWith('node:internal/modules/')) return 'Node module loader (node:internal/modules)';
  return url;
}

function cpuByOwner(profile: CpuProfile): [string, number][] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const totals = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    if (!node) return;
    const key = owner(node.callFrame.url, node.callFrame.functionName);
    totals.set(key, (totals.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  });
  return [...totals].filter(([k]) => k !== '(idle)').sort((a, b) => b[1] - a[1]);
}

interface HeapSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

function heapSummary(heap: HeapSnapshot): { byType: [string, number][]; byName: [string, number][] } {
  const fields = heap.snapshot.meta.node_fields;
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const types = heap.snapshot.meta.node_types[0];
  const byType = new Map<string, number>();
  const byName = new Map<string, number>();
  for (let i = 0; i < heap.nodes.length; i += width) {
    const type = types[heap.nodes[i + typeAt]] ?? '?';
    const size = heap.nodes[i + sizeAt];
    byType.set(type, (byType.get(type) ?? 0) + size);
    if (type === 'object' || type === 'closure' || type === 'array') {
      const name = `${type === 'object' ? '' : `${type} `}${heap.strings[heap.nodes[i + nameAt]]}`;
      byName.set(name, (byName.get(name) ?? 0) + size);
    }
  }
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]);
  return { byType: sorted(byType), byName: sorted(byName) };
}

async function waitForFile(dir: string, suffix: string): Promise<string> {
  const deadline = Date.now() + 60_000;
  let last = -1;
  while (Date.now() < deadline) {
    const name = (await readdir(dir)).find((f) => f.endsWith(suffix));
    if (name) {
      const { size } = await stat(join(dir, name));
      if (size > 0 && size === last) return join(dir, name);
      last = size;
    }
    await sleep(500);
  }
  throw new Error(`no ${suffix} appeared in ${dir} within 60 s`);
}

const mib = (bytes: number) => (bytes / 1048576).toFixed(1);

async function main(): Promise<void> {
  const out = await mkdtemp(join(tmpdir(), 'trellis-start-profile-'));
  // No bot accounts: the homeserver is never contacted.
  const env = { TRELLIS_CHECK_API_RESPONSES: '0', NODE_OPTIONS: `--cpu-prof --diagnostic-dir=${out}` };
  const daemon = await TestDaemon.create({ url: 'http://127.0.0.1:9' }, undefined, { env });
  try {
    // The first start also ran `trellis init` just before; measure a second, ordinary start.
    await daemon.stop();
    for (const file of await readdir(out)) await rm(join(out, file));
    const t0 = Date.now();
    await daemon.start();
    const apiUp = Date.now() - t0;
    await sleep(1000);
    await daemon.stop();
    const profileFile = await waitForFile(out, '.cpuprofile');

    log(`API up after ${apiUp} ms; starting again for a heap snapshot 5 s after the start …`);
    env.NODE_OPTIONS = `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${out}`;
    await daemon.start();
    await sleep(5000);
    const rss = await rssKiB(daemon.pid as number);
    daemon.signal('SIGUSR2');
    const snapshotFile = await waitForFile(out, '.heapsnapshot');
    await daemon.stop();

    const profile = JSON.parse(await readFile(profileFile, 'utf8')) as CpuProfile;
    const cpu = cpuByOwner(profile);
    const cpuTotal = cpu.reduce((sum, [, ms]) => sum + ms, 0);
    console.log(`\nEmpty daemon: API up ${apiUp} ms, RSS ${mib(rss * 1024)} MiB before the snapshot\n`);
    console.log(`CPU profile from process start to 1 s after the API answered, then SIGTERM; self time without idle: ${cpuTotal.toFixed(0)} ms\n`);
    console.log('| where | ms | share |\n| --- | ---: | ---: |');
    for (const [key, ms] of cpu.slice(0, 15)) console.log(`| ${key} | ${ms.toFixed(0)} | ${((100 * ms) / cpuTotal).toFixed(0)} % |`);

    const heap = heapSummary(JSON.parse(await readFile(snapshotFile, 'utf8')) as HeapSnapshot);
    const heapTotal = heap.byType.reduce((sum, [, b]) => sum + b, 0);
    console.log(`\nHeap snapshot 5 s after start: ${mib(heapTotal)} MiB of live objects\n`);
    console.log('| kind | MiB |\n| --- | ---: |');
    for (const [type, bytes] of heap.byType.slice(0, 8)) console.log(`| ${type} | ${mib(bytes)} |`);
    console.log('\n| constructor | MiB |\n| --- | ---: |');
    for (const [name, bytes] of heap.byName.slice(0, 12)) console.log(`| ${name.replace(/\|/g, '\\|')} | ${mib(bytes)} |`);
    console.log(`\nRaw files (open in Chrome DevTools): ${profileFile}, ${snapshotFile}`);
  } finally {
    await daemon.dispose();
  }
}

runMain(main);
