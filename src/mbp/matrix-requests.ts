/**
 * A maubot plugin's client-server API calls, carried out through the SDK's
 * Matrix actions of its instance: sends go through the bot's encrypting,
 * replay-safe send (the transaction id mautrix chose is not used), so a
 * Python plugin posts into encrypted rooms and never twice after a crash,
 * exactly like a TypeScript one. Calls outside this list are refused with
 * M_UNRECOGNIZED, naming the call.
 */
import type { MatrixActions } from '../sdk/index.ts';
import type { HostRequest, HostRequestError } from './protocol.ts';

export class RequestRefused extends Error {
  readonly answer: HostRequestError;
  constructor(status: number, errcode: string, error: string) {
    super(error);
    this.answer = { status, errcode, error };
  }
}

const CLIENT = '/_matrix/client/(?:v3|r0|v1)';
const seg = '([^/]+)';
const ROUTES: Array<{ method: string; pattern: RegExp; run: (actions: MatrixActions, parts: string[], req: HostRequest) => Promise<unknown> }> = [
  {
    method: 'PUT',
    pattern: new RegExp(`^${CLIENT}/rooms/${seg}/send/${seg}/${seg}$`),
    run: async (a, [room, type], req) => ({ event_id: await a.sendEvent(room!, type!, object(req.body)) }),
  },
  {
    method: 'PUT',
    pattern: new RegExp(`^${CLIENT}/rooms/${seg}/redact/${seg}/${seg}$`),
    run: async (a, [room, event], req) => ({ event_id: await a.redact(room!, event!, stringField(req.body, 'reason')) }),
  },
  {
    method: 'PUT',
    pattern: new RegExp(`^${CLIENT}/rooms/${seg}/state/${seg}(?:/${seg})?$`),
    run: async (a, [room, type, key], req) => ({ event_id: await a.sendState(room!, type!, key ?? '', object(req.body)) }),
  },
  {
    method: 'GET',
    pattern: new RegExp(`^${CLIENT}/rooms/${seg}/state/${seg}(?:/${seg})?$`),
    run: async (a, [room, type, key]) => {
      const content = await a.getRoomState(room!, type!, key ?? '');
      if (content === null) throw new RequestRefused(404, 'M_NOT_FOUND', 'Event not found.');
      return content;
    },
  },
  {
    method: 'GET',
    pattern: new RegExp(`^${CLIENT}/rooms/${seg}/joined_members$`),
    run: async (a, [room]) => ({ joined: Object.fromEntries((await a.joinedMembers(room!)).map((user) => [user, {}])) }),
  },
  {
    method: 'POST',
    pattern: new RegExp(`^${CLIENT}/rooms/${seg}/invite$`),
    run: async (a, [room], req) => {
      await a.invite(room!, stringField(req.body, 'user_id') ?? '');
      return {};
    },
  },
  // Read receipts, read markers and typing notices change nothing a room member would miss: accepted, not sent.
  { method: 'POST', pattern: new RegExp(`^${CLIENT}/rooms/${seg}/(?:receipt/.+|read_markers)$`), run: async () => ({}) },
  { method: 'PUT', pattern: new RegExp(`^${CLIENT}/rooms/${seg}/typing/${seg}$`), run: async () => ({}) },
  { method: 'GET', pattern: new RegExp(`^${CLIENT}/account/whoami$`), run: async (a) => ({ user_id: a.userId }) },
  {
    method: 'POST',
    pattern: /^\/_matrix\/media\/(?:v3|r0)\/upload$/,
    run: async (a, _parts, req) => {
      const data = Buffer.from(req.body_b64 ?? '', 'base64');
      return { content_uri: await a.uploadMedia(data, { contentType: req.content_type ?? 'application/octet-stream', filename: req.query.filename }) };
    },
  },
];

function object(body: unknown): Record<string, unknown> {
  return typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
}

function stringField(body: unknown, key: string): string | undefined {
  const value = object(body)[key];
  return typeof value === 'string' ? value : undefined;
}

/** Carries out one call as the bot; throws {@link RequestRefused} for what it does not pass on. */
export async function carryOut(actions: MatrixActions, req: HostRequest): Promise<unknown> {
  for (const route of ROUTES) {
    if (route.method !== req.method) continue;
    const m = route.pattern.exec(req.path);
    if (m)
      return route.run(
        actions,
        m.slice(1).map((p) => (p === undefined ? (undefined as unknown as string) : decodeURIComponent(p))),
        req,
      );
  }
  throw new RequestRefused(404, 'M_UNRECOGNIZED', `Trellis does not pass ${req.method} ${req.path.split('?')[0]} on to maubot plugins`);
}
