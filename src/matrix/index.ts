/** The Matrix layer: a small typed client-server API client, auth flows and the sync loop. */
export type {
  BasicEvent,
  Credentials,
  DownloadedMedia,
  InvitedRoomSync,
  JoinedRoomSync,
  LeftRoomSync,
  MatrixEvent,
  MediaConfig,
  Profile,
  StrippedStateEvent,
  SyncFilter,
  SyncResponse,
  Timeline,
  ToDeviceEvent,
  WhoAmI,
} from './types.ts';
export { HomeserverUnreachableError, MatrixApiError, MatrixAuthError, networkErrorCode, redactSecrets, safeOrigin } from './errors.ts';
export type { UnreachableReason } from './errors.ts';
export { encodePath, MatrixHttp, normalizeBaseUrl } from './http.ts';
export type { BackoffPolicy, MatrixHttpOptions, QueryValue, RawResponse, RequestOptions } from './http.ts';
export { MatrixClient, newTxnId, parseMxc } from './client.ts';
export type { JoinedMember, MatrixClientOptions, SyncOptions } from './client.ts';
export { checkHomeserver, loginWithPassword, loginWithToken, registerWithSharedSecret, registerWithToken } from './auth.ts';
export type { AuthOptions, HomeserverInfo } from './auth.ts';
export { DEFAULT_SYNC_FILTER, SyncLoop } from './sync-loop.ts';
export type { SyncLoopOptions, SyncLogger, SyncState, SyncStatus } from './sync-loop.ts';
