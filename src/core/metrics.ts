/**
 * Prometheus metrics (prom-client): the daemon's counters and gauges, the
 * process figures and each plugin's own.
 */
import { memoryUsage, cpuUsage } from 'node:process';
import { Counter, Gauge, Registry } from 'prom-client';
import type { PluginMetrics } from '../sdk/index.ts';

/** Prometheus metrics served at GET /metrics. */
export class Metrics {
  readonly registry = new Registry();
  readonly eventsHandled = new Counter({ name: 'trellis_events_handled_total', help: 'Room events delivered to instances', labelNames: ['instance'], registers: [this.registry] });
  readonly handlerErrors = new Counter({ name: 'trellis_handler_errors_total', help: 'Plugin handlers that threw', labelNames: ['instance'], registers: [this.registry] });
  readonly commands = new Counter({ name: 'trellis_commands_total', help: 'Commands run', labelNames: ['instance', 'command'], registers: [this.registry] });
  readonly instanceState = new Gauge({ name: 'trellis_instance_up', help: '1 when the instance is running', labelNames: ['instance', 'plugin'], registers: [this.registry] });
  readonly syncAge = new Gauge({ name: 'trellis_client_last_sync_age_seconds', help: 'Seconds since the last successful sync', labelNames: ['client'], registers: [this.registry] });
  readonly mbpHostMemory = new Gauge({
    name: 'trellis_mbp_host_rss_bytes',
    help: "Resident memory of a maubot plugin instance's Python host process",
    labelNames: ['instance'],
    registers: [this.registry],
  });
  readonly logRecords = new Counter({ name: 'trellis_log_records_total', help: 'Log records by level', labelNames: ['level'], registers: [this.registry] });

  /** Set by the event-loop watch (loop-lag.ts), which already wakes twice a second. */
  readonly eventLoopLag = new Gauge({ name: 'trellis_nodejs_eventloop_lag_seconds', help: 'How late the last event-loop check ran', registers: [this.registry] });

  constructor() {
    // The process figures are read when /metrics is scraped. prom-client's
    // default collectors would do the same but keep a 10 ms event-loop
    // histogram running, which was most of an idle daemon's CPU (issue 12).
    const registers = [this.registry];
    const readAtScrape: [name: string, help: string, read: () => number][] = [
      ['trellis_process_resident_memory_bytes', 'Resident memory size in bytes', () => memoryUsage.rss()],
      [
        'trellis_process_cpu_seconds_total',
        'User and system CPU time spent in seconds',
        () => {
          const { user, system } = cpuUsage();
          return (user + system) / 1e6;
        },
      ],
      ['trellis_nodejs_heap_size_used_bytes', 'V8 heap in use in bytes', () => memoryUsage().heapUsed],
      ['trellis_nodejs_heap_size_total_bytes', 'V8 heap size in bytes', () => memoryUsage().heapTotal],
      ['trellis_nodejs_external_memory_bytes', 'Memory of C++ objects bound to JavaScript (WebAssembly, buffers) in bytes', () => memoryUsage().external],
    ];
    for (const [name, help, read] of readAtScrape) {
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read());
        },
      });
    }
    new Gauge({ name: 'trellis_process_start_time_seconds', help: 'Start time of the process since the Unix epoch in seconds', registers }).set(Math.round(Date.now() / 1000 - process.uptime()));
  }

  /**
   * Metrics for one instance of a plugin. Instances of the same plugin share
   * each metric and are told apart by the `instance` label.
   */
  forPlugin(pluginId: string, instanceId: string): PluginMetrics {
    const prefix = `trellis_plugin_${pluginId.replace(/[^a-zA-Z0-9_]/g, '_')}_`;
    const registry = this.registry;
    const named = (name: string): string => {
      if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(name)) throw new Error(`metric name "${name}" must be letters, digits and _`);
      return prefix + name;
    };
    function existing<T>(fullName: string, kind: 'counter' | 'gauge', labels: string[]): T | undefined {
      const found = registry.getSingleMetric(fullName) as (Counter | Gauge) | undefined;
      if (!found) return undefined;
      if ((kind === 'counter') !== found instanceof Counter) throw new Error(`metric ${fullName} is already registered as another kind`);
      const had = (found as unknown as { labelNames: string[] }).labelNames.join(',');
      if (had !== ['instance', ...labels].join(',')) throw new Error(`metric ${fullName} is already registered with labels ${had}`);
      return found as T;
    }
    return {
      counter(name, help, labelNames = []) {
        const fullName = named(name);
        const metric = existing<Counter>(fullName, 'counter', labelNames) ?? new Counter({ name: fullName, help, labelNames: ['instance', ...labelNames], registers: [registry] });
        // Shown as 0 from the start, so a rate() over it works before the first event.
        if (labelNames.length === 0) metric.inc({ instance: instanceId }, 0);
        return { inc: (labels = {}, value = 1) => metric.inc({ ...labels, instance: instanceId }, value) };
      },
      gauge(name, help, labelNames = []) {
        const fullName = named(name);
        const metric = existing<Gauge>(fullName, 'gauge', labelNames) ?? new Gauge({ name: fullName, help, labelNames: ['instance', ...labelNames], registers: [registry] });
        return { set: (value, labels = {}) => metric.set({ ...labels, instance: instanceId }, value) };
      },
    };
  }
}
