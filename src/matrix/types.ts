/** A raw Matrix event as delivered by the homeserver's sync (the SDK re-exports it for plugins). */
export interface MatrixEvent {
  event_id: string;
  type: string;
  sender: string;
  origin_server_ts: number;
  content: Record<string, unknown>;
  state_key?: string;
  unsigned?: Record<string, unknown>;
  room_id?: string;
}

/** What a bot account needs to talk to its homeserver. */
export interface Credentials {
  homeserverUrl: string;
  userId: string;
  accessToken: string;
  deviceId: string;
}

/** Stripped state in invites and to-device events carry no event id or timestamp. */
export interface StrippedStateEvent {
  type: string;
  state_key: string;
  sender: string;
  content: Record<string, unknown>;
}

export interface ToDeviceEvent {
  type: string;
  sender: string;
  content: Record<string, unknown>;
}

export interface BasicEvent {
  type: string;
  content: Record<string, unknown>;
}

export interface Timeline {
  events: MatrixEvent[];
  limited?: boolean;
  prev_batch?: string;
}

export interface JoinedRoomSync {
  timeline?: Timeline;
  state?: { events: MatrixEvent[] };
  account_data?: { events: BasicEvent[] };
  ephemeral?: { events: BasicEvent[] };
  unread_notifications?: { highlight_count?: number; notification_count?: number };
  summary?: Record<string, unknown>;
}

export interface InvitedRoomSync {
  invite_state?: { events: StrippedStateEvent[] };
}

export interface LeftRoomSync {
  timeline?: Timeline;
  state?: { events: MatrixEvent[] };
  account_data?: { events: BasicEvent[] };
}

/** The subset of a /sync response the platform (and later the E2EE layer) reads. */
export interface SyncResponse {
  next_batch: string;
  rooms?: {
    join?: Record<string, JoinedRoomSync>;
    invite?: Record<string, InvitedRoomSync>;
    leave?: Record<string, LeftRoomSync>;
    knock?: Record<string, unknown>;
  };
  account_data?: { events: BasicEvent[] };
  presence?: { events: BasicEvent[] };
  /** E2EE: feed to OlmMachine.receiveSyncChanges. */
  to_device?: { events: ToDeviceEvent[] };
  device_lists?: { changed?: string[]; left?: string[] };
  device_one_time_keys_count?: Record<string, number>;
  device_unused_fallback_key_types?: string[];
}

/** The /sync filter we send inline; only the fields we use are typed. */
export interface SyncFilter {
  presence?: { not_types?: string[]; types?: string[] };
  account_data?: { not_types?: string[]; types?: string[]; limit?: number };
  room?: {
    timeline?: { limit?: number; types?: string[]; not_types?: string[]; lazy_load_members?: boolean };
    state?: { lazy_load_members?: boolean; types?: string[]; not_types?: string[] };
    ephemeral?: { not_types?: string[]; types?: string[] };
    account_data?: { not_types?: string[]; types?: string[] };
    include_leave?: boolean;
  };
  event_fields?: string[];
}

export interface WhoAmI {
  user_id: string;
  device_id?: string;
  is_guest?: boolean;
}

export interface Profile {
  displayname?: string;
  avatar_url?: string;
}

export interface MediaConfig {
  'm.upload.size'?: number;
}

export interface DownloadedMedia {
  data: Uint8Array;
  contentType: string | null;
}
