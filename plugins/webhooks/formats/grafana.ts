/**
 * Grafana unified alerting, webhook contact point: Alertmanager's payload
 * plus orgId, title/state/message and per-alert dashboard, panel, silence and
 * image URLs (all rendered by the shared alert-group renderer).
 */
import { renderAlertGroup } from './alert-group.ts';
import type { Format } from './types.ts';

export const grafana: Format = (input) => renderAlertGroup(input, { product: 'Grafana' });
