/**
 * maubot's `remote_displayname` / `remote_avatar_url`: the account's profile
 * as its homeserver has it, looked up at most once a minute per account (a
 * failed lookup counts as unknown) so listing accounts stays cheap.
 */
import type { Supervisor } from '../core/supervisor.ts';
import type { RemoteProfile } from './serialize.ts';

const TTL_MS = 60_000;
const LOOKUP_TIMEOUT_MS = 3_000;

export class RemoteProfiles {
  readonly #cache = new Map<string, { at: number; profile: RemoteProfile | null }>();
  readonly #supervisor: Supervisor;

  constructor(supervisor: Supervisor) {
    this.#supervisor = supervisor;
  }

  /** The last known profile, without looking it up (for the live websocket). */
  cached(userId: string): RemoteProfile | null {
    return this.#cache.get(userId)?.profile ?? null;
  }

  /** After a profile change through the API: the next read looks it up again. */
  forget(userId: string): void {
    this.#cache.delete(userId);
  }

  async get(userId: string): Promise<RemoteProfile | null> {
    const hit = this.#cache.get(userId);
    if (hit && Date.now() - hit.at < TTL_MS) return hit.profile;
    const account = this.#supervisor.clients.get(userId);
    if (!account) return null;
    const lookup = account.matrix.getProfile(userId).then(
      (p) => ({ displayname: typeof p.displayname === 'string' ? p.displayname : null, avatar_url: typeof p.avatar_url === 'string' ? p.avatar_url : null }),
      () => null,
    );
    const timeout = new Promise<null>((resolve) => setTimeout(resolve, LOOKUP_TIMEOUT_MS, null).unref());
    const profile = await Promise.race([lookup, timeout]);
    this.#cache.set(userId, { at: Date.now(), profile });
    return profile;
  }
}
