import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Metrics } from '../../src/core/metrics.ts';

test('plugin metrics appear at /metrics under the plugin prefix, one series per instance', async () => {
  const metrics = new Metrics();
  const a = metrics.forPlugin('org.trellis.media-preview', 'preview-a');
  const b = metrics.forPlugin('org.trellis.media-preview', 'preview-b');
  a.counter('extractions_total', 'Extractions run').inc();
  a.counter('extractions_total', 'Extractions run').inc({}, 2);
  b.counter('extractions_total', 'Extractions run');
  a.counter('failures_total', 'Failures by kind', ['kind']).inc({ kind: 'private' });
  a.gauge('queue_length', 'Waiting requests').set(4);
  const text = await metrics.registry.metrics();
  assert.match(text, /^trellis_plugin_org_trellis_media_preview_extractions_total\{instance="preview-a"\} 3$/m);
  assert.match(text, /^trellis_plugin_org_trellis_media_preview_extractions_total\{instance="preview-b"\} 0$/m, 'a counter without labels starts at 0');
  assert.match(text, /^trellis_plugin_org_trellis_media_preview_failures_total\{kind="private",instance="preview-a"\} 1$/m);
  assert.match(text, /^trellis_plugin_org_trellis_media_preview_queue_length\{instance="preview-a"\} 4$/m);
});

test('plugin metrics refuse bad names and a second registration of another kind or labels', () => {
  const m = new Metrics().forPlugin('org.example.x', 'x');
  assert.throws(() => m.counter('bad-name', 'h'), /letters, digits and _/);
  m.counter('things_total', 'h', ['kind']);
  assert.throws(() => m.gauge('things_total', 'h', ['kind']), /another kind/);
  assert.throws(() => m.counter('things_total', 'h'), /already registered with labels instance,kind/);
});
