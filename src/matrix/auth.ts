/**
 * Turning what an admin types (URL, token, password, registration token,
 * shared secret) into Credentials, with errors that say what to fix.
 */
import { createHmac } from 'node:crypto';
import { HomeserverUnreachableError, MatrixApiError, MatrixAuthError, safeOrigin } from './errors.ts';
import { MatrixHttp } from './http.ts';
import type { Credentials, WhoAmI } from './types.ts';

export interface AuthOptions {
  fetch?: typeof fetch;
  userAgent?: string;
}

export interface HomeserverInfo {
  /** The normalised base URL to store. */
  url: string;
  versions: string[];
  unstableFeatures: Record<string, boolean>;
}

const DEFAULT_DEVICE_NAME = 'Trellis bot';

function http(url: string, opts: AuthOptions, accessToken?: string): MatrixHttp {
  return new MatrixHttp({
    baseUrl: url,
    timeoutMs: 15_000,
    ...(accessToken ? { accessToken } : {}),
    ...(opts.fetch ? { fetch: opts.fetch } : {}),
    ...(opts.userAgent ? { userAgent: opts.userAgent } : {}),
  });
}

/** Confirms that `url` is a reachable Matrix client API; throws HomeserverUnreachableError saying why not. */
export async function checkHomeserver(url: string, opts: AuthOptions = {}): Promise<HomeserverInfo> {
  const client = http(url, opts);
  const path = '/_matrix/client/versions';
  let res: { versions?: unknown; unstable_features?: unknown };
  try {
    res = await client.request('GET', path);
  } catch (err) {
    if (err instanceof MatrixApiError) {
      throw HomeserverUnreachableError.notMatrix(client.baseUrl, 'GET', path, err.status, err.notMatrix ? 'not JSON' : `errcode ${err.errcode}`);
    }
    throw err;
  }
  if (!Array.isArray(res.versions)) {
    throw HomeserverUnreachableError.notMatrix(client.baseUrl, 'GET', path, 200, 'JSON without a "versions" list');
  }
  return {
    url: client.baseUrl,
    versions: res.versions.filter((v): v is string => typeof v === 'string'),
    unstableFeatures: isRecord(res.unstable_features) ? (res.unstable_features as Record<string, boolean>) : {},
  };
}

/** Adopts an existing access token; the user and device come from whoami. */
export async function loginWithToken(url: string, accessToken: string, opts: AuthOptions = {}): Promise<Credentials> {
  const client = http(url, opts, accessToken);
  let who: WhoAmI;
  try {
    who = await client.request<WhoAmI>('GET', '/_matrix/client/v3/account/whoami');
  } catch (err) {
    if (err instanceof MatrixApiError && err.status === 401) {
      throw new MatrixAuthError(
        `the access token was rejected by ${safeOrigin(client.baseUrl)} (${err.errcode}): it is wrong, expired or was logged out; create a new one (e.g. log in again)`,
        err.errcode,
        err.status,
        err,
      );
    }
    throw err;
  }
  if (!who.device_id) {
    throw new MatrixAuthError(
      `the access token for ${who.user_id} has no device (an appservice or admin-created token?); use a token from a normal login, which end-to-end encryption needs`,
      'NO_DEVICE',
    );
  }
  return { homeserverUrl: client.baseUrl, userId: who.user_id, accessToken, deviceId: who.device_id };
}

export async function loginWithPassword(url: string, username: string, password: string, deviceName: string = DEFAULT_DEVICE_NAME, opts: AuthOptions = {}): Promise<Credentials> {
  const client = http(url, opts);
  try {
    const res = await client.request<LoginResponse>('POST', '/_matrix/client/v3/login', {
      body: {
        type: 'm.login.password',
        identifier: { type: 'm.id.user', user: username },
        password,
        initial_device_display_name: deviceName,
      },
    });
    return toCredentials(client.baseUrl, res);
  } catch (err) {
    if (err instanceof MatrixApiError) {
      if (err.errcode === 'M_FORBIDDEN') {
        throw new MatrixAuthError(`login as "${username}" on ${safeOrigin(client.baseUrl)} failed: wrong username or password (M_FORBIDDEN)`, err.errcode, err.status, err);
      }
      if (err.errcode === 'M_USER_DEACTIVATED') {
        throw new MatrixAuthError(`the account "${username}" is deactivated on ${safeOrigin(client.baseUrl)}`, err.errcode, err.status, err);
      }
      if (err.errcode === 'M_UNKNOWN' && err.status === 400) {
        throw new MatrixAuthError(`${safeOrigin(client.baseUrl)} does not accept password login (${err.error}); use an access token instead`, err.errcode, err.status, err);
      }
    }
    throw err;
  }
}

const SUPPORTED_REGISTRATION_STAGES = new Set(['m.login.registration_token', 'm.login.dummy']);
const MAX_UIA_ROUNDS = 6;

/**
 * Registers an account through user-interactive auth, completing
 * `m.login.registration_token` and `m.login.dummy` stages as the chosen flow
 * needs them (conduwuit and Synapse both work this way).
 */
export async function registerWithToken(
  url: string,
  username: string,
  password: string,
  registrationToken: string,
  deviceName: string = DEFAULT_DEVICE_NAME,
  opts: AuthOptions = {},
): Promise<Credentials> {
  const client = http(url, opts);
  const where = safeOrigin(client.baseUrl);
  const base = { username, password, initial_device_display_name: deviceName, inhibit_login: false };
  let auth: Record<string, unknown> | undefined;
  let lastStage: string | undefined;

  for (let round = 0; round < MAX_UIA_ROUNDS; round++) {
    let uia: UiaState;
    try {
      const res = await client.request<LoginResponse>('POST', '/_matrix/client/v3/register', {
        body: auth ? { ...base, auth } : base,
      });
      return toCredentials(client.baseUrl, res);
    } catch (err) {
      if (!(err instanceof MatrixApiError)) throw err;
      if (err.status !== 401 || !Array.isArray(err.data.flows)) throw registrationError(err, username, where);
      uia = readUia(err.data);
      if (lastStage !== undefined && !uia.completed.includes(lastStage)) {
        // The server re-offers the stage we just submitted: it refused our answer.
        if (lastStage === 'm.login.registration_token') {
          throw new MatrixAuthError(
            `the registration token was rejected by ${where}${err.error ? ` (${err.error})` : ''}: it is wrong, expired or used up; create a new one on the homeserver`,
            err.errcode === 'M_UNKNOWN' ? 'M_UNAUTHORIZED' : err.errcode,
            err.status,
            err,
          );
        }
        throw new MatrixAuthError(`registration on ${where} failed at stage ${lastStage}: ${err.error || err.errcode}`, err.errcode, err.status, err);
      }
    }

    const flow = chooseFlow(uia);
    if (!flow) {
      throw new MatrixAuthError(
        `this homeserver does not offer registration tokens; flows: ${formatFlows(uia.flows)}. Enable registration with registration_requires_token (Synapse) or a registration token (conduwuit), or register the account another way`,
        'NO_SUPPORTED_FLOW',
      );
    }
    const stage = flow.find((s) => !uia.completed.includes(s));
    if (stage === undefined) {
      throw new MatrixAuthError(`registration on ${where} reports every stage complete but did not finish; flows: ${formatFlows(uia.flows)}`, 'UIA_STUCK');
    }
    lastStage = stage;
    auth =
      stage === 'm.login.registration_token'
        ? { type: stage, token: registrationToken, ...(uia.session ? { session: uia.session } : {}) }
        : { type: stage, ...(uia.session ? { session: uia.session } : {}) };
  }
  throw new MatrixAuthError(`registration on ${where} did not finish after ${MAX_UIA_ROUNDS} rounds of user-interactive auth`, 'UIA_STUCK');
}

/**
 * Synapse's admin registration (`registration_shared_secret`): no UIA, the
 * request is authenticated by an HMAC over a one-time nonce.
 */
export async function registerWithSharedSecret(url: string, sharedSecret: string, username: string, password: string, admin = false, opts: AuthOptions = {}): Promise<Credentials> {
  const client = http(url, opts);
  const where = safeOrigin(client.baseUrl);
  const path = '/_synapse/admin/v1/register';
  try {
    const { nonce } = await client.request<{ nonce: string }>('GET', path);
    const mac = createHmac('sha1', sharedSecret)
      .update(`${nonce}\0${username}\0${password}\0${admin ? 'admin' : 'notadmin'}`)
      .digest('hex');
    const res = await client.request<LoginResponse>('POST', path, { body: { nonce, username, password, admin, mac } });
    return toCredentials(client.baseUrl, res);
  } catch (err) {
    if (!(err instanceof MatrixApiError)) throw err;
    if (err.status === 403 && /hmac/i.test(err.error)) {
      throw new MatrixAuthError(`${where} rejected the shared secret: it must equal registration_shared_secret in the homeserver's config`, err.errcode, err.status, err);
    }
    if (err.status === 400 && /not enabled/i.test(err.error)) {
      throw new MatrixAuthError(
        `shared-secret registration is not enabled on ${where}: set registration_shared_secret in the Synapse config, or use a registration token`,
        err.errcode,
        err.status,
        err,
      );
    }
    if (err.status === 404 || err.notMatrix || err.errcode === 'M_UNRECOGNIZED') {
      throw new MatrixAuthError(
        `${where} has no ${path} endpoint: shared-secret registration works with Synapse only (is /_synapse forwarded by the reverse proxy?); use a registration token for other homeservers`,
        err.errcode,
        err.status,
        err,
      );
    }
    throw registrationError(err, username, where);
  }
}

interface LoginResponse {
  user_id: string;
  access_token?: string;
  device_id?: string;
}

interface UiaState {
  flows: string[][];
  completed: string[];
  session: string | undefined;
}

function readUia(data: Record<string, unknown>): UiaState {
  const flows = Array.isArray(data.flows) ? data.flows.map((f) => (isRecord(f) && Array.isArray(f.stages) ? f.stages.filter((s): s is string => typeof s === 'string') : [])) : [];
  const completed = Array.isArray(data.completed) ? data.completed.filter((s): s is string => typeof s === 'string') : [];
  return { flows, completed, session: typeof data.session === 'string' ? data.session : undefined };
}

/** The shortest flow made only of stages we can complete without a human. */
function chooseFlow(uia: UiaState): string[] | undefined {
  return uia.flows.filter((stages) => stages.length > 0 && stages.every((s) => SUPPORTED_REGISTRATION_STAGES.has(s))).sort((a, b) => a.length - b.length)[0];
}

function formatFlows(flows: string[][]): string {
  return flows.length === 0 ? '(none)' : flows.map((f) => `[${f.join(' → ')}]`).join(', ');
}

function registrationError(err: MatrixApiError, username: string, where: string): Error {
  switch (err.errcode) {
    case 'M_USER_IN_USE':
      return new MatrixAuthError(`the username "${username}" is already taken on ${where}: choose another one, or add the existing account by password or access token`, err.errcode, err.status, err);
    case 'M_INVALID_USERNAME':
      return new MatrixAuthError(`"${username}" is not a valid Matrix username: use only lowercase letters, digits and . _ = - /`, err.errcode, err.status, err);
    case 'M_EXCLUSIVE':
      return new MatrixAuthError(`the username "${username}" is reserved by an appservice (bridge) on ${where}: choose another one`, err.errcode, err.status, err);
    case 'M_WEAK_PASSWORD':
      return new MatrixAuthError(`${where} rejected the password as too weak: ${err.error}`, err.errcode, err.status, err);
    case 'M_FORBIDDEN':
      return new MatrixAuthError(
        `registration is not allowed on ${where}${err.error ? ` (${err.error})` : ''}: enable registration (with a token) on the homeserver, or add the account by password or access token`,
        err.errcode,
        err.status,
        err,
      );
    default:
      return err;
  }
}

function toCredentials(homeserverUrl: string, res: LoginResponse): Credentials {
  if (!res.access_token || !res.device_id) {
    throw new MatrixAuthError(`the homeserver created ${res.user_id} but returned no access token or device (login inhibited?)`, 'NO_TOKEN');
  }
  return { homeserverUrl, userId: res.user_id, accessToken: res.access_token, deviceId: res.device_id };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
