/**
 * The messages between the daemon's adapter (adapter.ts) and the Python host
 * of one maubot plugin instance (host.py): one JSON object per line on the
 * host's file descriptor 3, both ways. host.py's docstring lists the same.
 */
import type { MatrixEvent } from '../matrix/types.ts';
import type { MaubotMeta } from '../plugin-package/maubot-manifest.ts';

export type ToHost =
  | {
      type: 'start';
      instance_id: string;
      plugin_dir: string;
      meta: MaubotMeta;
      user_id: string;
      /** The instance config as YAML (maubot keeps it as text). */
      config: string;
      /** SQLite file for `database: true`. */
      database: string | null;
      /** The instance's public web base (`webapp: true`), or null without a public listener. */
      webapp_url: string | null;
    }
  /** A room event (decrypted, `room_id` set) for the plugin's handlers; answered with `done`. */
  | { type: 'event'; id: number; event: MatrixEvent & { room_id: string } }
  | { type: 'config'; config: string }
  | { type: 'response'; id: number; result?: unknown; error?: HostRequestError }
  | { type: 'ping'; id: number }
  | { type: 'stop' };

export interface HostRequestError {
  status: number;
  errcode: string;
  error: string;
}

/** A client-server API call of the plugin (mautrix's HTTPAPI.request), for the daemon to carry out as the bot. */
export interface HostRequest {
  type: 'request';
  id: number;
  method: string;
  /** The full path, e.g. /_matrix/client/v3/rooms/!r:x/send/m.room.message/123. */
  path: string;
  query: Record<string, string>;
  body?: unknown;
  /** Bytes (media uploads), base64. */
  body_b64?: string;
  content_type?: string;
  /** The event whose handler made the call, and the call's place among that handler's calls (replay-stable transaction ids). */
  event_id?: string;
  seq?: number;
}

export type FromHost =
  /** `webapp_port`: the loopback port of the plugin's aiohttp routes (`webapp: true`), else null. */
  | { type: 'started'; webapp_port: number | null }
  | { type: 'failed'; error: string; traceback?: string }
  | { type: 'done'; id: number; error?: string }
  | HostRequest
  | { type: 'log'; level: string; logger: string; message: string }
  | { type: 'config_saved'; config: string }
  | { type: 'pong'; id: number }
  | { type: 'stopped' };
