/**
 * What a webhook transform costs: a small v2 transform run N times through
 * TransformRunner (worker thread, fresh QuickJS runtime and context per run),
 * against the same run called directly on this thread (no worker, no message
 * passing), plus the first run of a cold runner and the memory the workers
 * add. Prints figures only.
 *
 *   node bench/webhooks-transform.ts [--count 500]   (or BENCH_COUNT=500)
 */
import { newQuickJSWASMModuleFromVariant } from 'quickjs-emscripten-core';
import { TransformRunner } from '../plugins/webhooks/transform.ts';
import { runScript } from '../plugins/webhooks/transform-worker.ts';

const argIndex = process.argv.indexOf('--count');
const COUNT = Number(argIndex > 0 ? process.argv[argIndex + 1] : (process.env.BENCH_COUNT ?? 500));

const CODE = `
const firing = data.alerts.filter((a) => a.status === 'firing');
result = {
  version: 'v2',
  plain: firing.length + ' firing: ' + firing.map((a) => a.labels.alertname + ' on ' + a.labels.instance).join(', '),
  html: '<b>' + firing.length + ' firing</b>',
  msgtype: 'm.notice',
};`;
const DATA = {
  status: 'firing',
  alerts: Array.from({ length: 5 }, (_, i) => ({ status: i % 2 ? 'resolved' : 'firing', labels: { alertname: 'HighLatency', instance: `web-${i}` }, startsAt: '2025-01-01T00:00:00Z' })),
};

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function summary(label: string, samples: number[]): void {
  const sorted = [...samples].sort((a, b) => a - b);
  console.log(`${label.padEnd(44)} p50 ${percentile(sorted, 50).toFixed(2)} ms   p95 ${percentile(sorted, 95).toFixed(2)} ms   max ${sorted[sorted.length - 1].toFixed(2)} ms`);
}

const rssMiB = () => (process.memoryUsage().rss / 1024 / 1024).toFixed(1);
const limits = { timeoutMs: 500, memoryBytes: 16 * 1024 * 1024 };

// Direct: QuickJS on this thread, the same function the worker runs.
const qjs = await newQuickJSWASMModuleFromVariant(import('@jitl/quickjs-wasmfile-release-sync'));
const json = JSON.stringify(DATA);
const direct: number[] = [];
for (let i = 0; i < COUNT; i++) {
  const started = performance.now();
  const outcome = runScript(qjs, CODE, json, limits);
  direct.push(performance.now() - started);
  if ('error' in outcome) throw new Error(outcome.error);
}

const rssBefore = rssMiB();
const runner = new TransformRunner(limits, { workers: 2 });
let started = performance.now();
const first = await runner.run(CODE, DATA);
const cold = performance.now() - started;
if (!first.ok) throw new Error(first.error);

const viaWorker: number[] = [];
for (let i = 0; i < COUNT; i++) {
  started = performance.now();
  const outcome = await runner.run(CODE, DATA);
  viaWorker.push(performance.now() - started);
  if (!outcome.ok) throw new Error(outcome.error);
}

started = performance.now();
await Promise.all(Array.from({ length: COUNT }, () => runner.run(CODE, DATA)));
const burstMs = performance.now() - started;
const rssAfter = rssMiB();
await runner.close();

console.log(`webhook transform, ${COUNT} runs of a small v2 transform (5 alerts in, ~60 characters out)`);
summary('direct (this thread, fresh runtime+context)', direct);
summary('TransformRunner.run (worker round trip)', viaWorker);
console.log(`${'first run of a cold runner (worker start)'.padEnd(44)} ${cold.toFixed(1)} ms`);
console.log(`${`${COUNT} runs at once, 2 workers`.padEnd(44)} ${burstMs.toFixed(0)} ms (${((COUNT / burstMs) * 1000).toFixed(0)} runs/s)`);
console.log(`${'process RSS before / with 2 workers'.padEnd(44)} ${rssBefore} / ${rssAfter} MiB`);
