/**
 * The webhook payload fixtures (test/fixtures/webhooks/<format>-<case>.json, each
 * written from the service's documented format) with what a service sends
 * alongside: GitHub and GitLab name the event in a header, the file name says which.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { FORMAT_NAMES, type FormatName } from '../../plugins/webhooks/formats/index.ts';

const FIXTURES = new URL('../fixtures/webhooks/', import.meta.url);
const GITLAB_EVENTS: Record<string, string> = { push: 'Push Hook', merge_request: 'Merge Request Hook', issue: 'Issue Hook', pipeline: 'Pipeline Hook' };

/** Every fixture's name (without .json), sorted. */
export function fixtureNames(): string[] {
  return readdirSync(FIXTURES)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length))
    .sort();
}

export function fixture(name: string): unknown {
  return JSON.parse(readFileSync(new URL(`${name}.json`, FIXTURES), 'utf8'));
}

/** The format a fixture is for (its name's first part). */
export function formatOf(name: string): FormatName {
  const format = FORMAT_NAMES.find((f) => name === f || name.startsWith(`${f}-`));
  if (!format) throw new Error(`no format for fixture ${name}`);
  return format;
}

/** The headers the service sends with this payload (beyond the content type). */
export function headersOf(name: string): Record<string, string> {
  const [service, event = ''] = name.split(/-(.*)/s);
  if (service === 'github') return { 'x-github-event': event.replace(/-merged$/, '') };
  if (service === 'gitlab') return { 'x-gitlab-event': GITLAB_EVENTS[event] ?? '' };
  return {};
}
