/** Prometheus Alertmanager, webhook_config receiver (payload version 4). */
import { renderAlertGroup } from './alert-group.ts';
import type { Format } from './types.ts';

export const alertmanager: Format = (input) => renderAlertGroup(input, { product: 'Alertmanager' });
