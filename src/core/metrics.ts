import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics served at GET /metrics. */
export class Metrics {
  readonly registry = new Registry();
  readonly eventsHandled = new Counter({ name: 'trellis_events_handled_total', help: 'Room events delivered to instances', labelNames: ['instance'], registers: [this.registry] });
  readonly handlerErrors = new Counter({ name: 'trellis_handler_errors_total', help: 'Plugin handlers that threw', labelNames: ['instance'], registers: [this.registry] });
  readonly commands = new Counter({ name: 'trellis_commands_total', help: 'Commands run', labelNames: ['instance', 'command'], registers: [this.registry] });
  readonly instanceState = new Gauge({ name: 'trellis_instance_up', help: '1 when the instance is running', labelNames: ['instance', 'plugin'], registers: [this.registry] });
  readonly syncAge = new Gauge({ name: 'trellis_client_last_sync_age_seconds', help: 'Seconds since the last successful sync', labelNames: ['client'], registers: [this.registry] });
  readonly logRecords = new Counter({ name: 'trellis_log_records_total', help: 'Log records by level', labelNames: ['level'], registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'trellis_' });
  }
}
