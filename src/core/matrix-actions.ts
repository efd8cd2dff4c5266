/**
 * The SDK's Matrix actions for one bot account: what a plugin's `ctx.matrix`
 * calls turn into. Sends go through the account's encrypting send (given as
 * a dependency), so this file holds the plugin-facing shape and the account
 * file holds the account's life.
 */
import type { FileOptions, MatrixActions, RoomMedia, SendOptions, UploadOptions } from '../sdk/index.ts';
import type { MatrixClient } from '../matrix/client.ts';
import { editContent, fileMessageOptions, mediaContent, reactionContent, textContent } from '../sdk/content.ts';
import { replayStableTxnId } from './plugin-scope.ts';

// Room versions whose creators get power only from m.room.power_levels (v12 made creators unlimited).
const CLASSIC_ROOM_VERSIONS = new Set(['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11']);

async function powerLevelIn(matrix: MatrixClient, roomId: string, userId: string): Promise<number> {
  const create = await matrix.getStateEventFull(roomId, 'm.room.create');
  const content = create?.content ?? {};
  const version = typeof content.room_version === 'string' ? content.room_version : '1';
  if (!CLASSIC_ROOM_VERSIONS.has(version)) {
    const creators = [create?.sender, ...(Array.isArray(content.additional_creators) ? content.additional_creators : [])];
    if (creators.includes(userId)) return Number.POSITIVE_INFINITY;
  }
  const levels = await matrix.getStateEvent(roomId, 'm.room.power_levels');
  if (!levels) return (typeof content.creator === 'string' ? content.creator : create?.sender) === userId ? 100 : 0;
  const own = (levels.users as Record<string, unknown> | undefined)?.[userId];
  if (typeof own === 'number') return own;
  return typeof levels.users_default === 'number' ? levels.users_default : 0;
}

export interface ActionDeps {
  send: (roomId: string, type: string, content: Record<string, unknown>) => Promise<string>;
  upload: (roomId: string, data: Uint8Array, options: UploadOptions) => Promise<RoomMedia>;
  mediaEncryptedFor: (roomId: string) => Promise<boolean>;
  openDirectRoom: (userId: string) => Promise<string>;
  isDirectRoom: (roomId: string) => boolean;
}

export function createActions(userId: string, matrix: MatrixClient, deps: ActionDeps): MatrixActions {
  const { send, upload } = deps;
  const actions: MatrixActions = {
    userId,
    sendText: (roomId: string, text: string, html?: string, options: SendOptions = {}) => send(roomId, 'm.room.message', textContent(text, html, options)),
    sendEvent: (roomId, type, content) => send(roomId, type, content),
    sendState: (roomId, type, stateKey, content) => matrix.sendState(roomId, type, stateKey, content),
    react: (roomId, eventId, key) => send(roomId, 'm.reaction', reactionContent(eventId, key)),
    edit: (roomId, eventId, text, html) => send(roomId, 'm.room.message', editContent(eventId, text, html)),
    redact: (roomId, eventId, reason) => matrix.redact(roomId, eventId, reason, replayStableTxnId()),
    uploadMedia: (data: Uint8Array, options: UploadOptions) => matrix.uploadMedia(data, options),
    uploadForRoom: upload,
    mediaEncryptedFor: deps.mediaEncryptedFor,
    sendMedia: (roomId, media, options) => send(roomId, 'm.room.message', mediaContent(media, options)),
    async sendFile(roomId: string, data: Uint8Array, options: FileOptions) {
      const media = await upload(roomId, data, options);
      return actions.sendMedia(roomId, media, fileMessageOptions(options, data.byteLength));
    },
    async maxUploadSize() {
      const size = (await matrix.getMediaConfig())['m.upload.size'];
      return typeof size === 'number' && size > 0 ? size : null;
    },
    getRoomState: (roomId, type, stateKey = '') => matrix.getStateEvent(roomId, type, stateKey),
    openDirectRoom: deps.openDirectRoom,
    isDirectRoom: deps.isDirectRoom,
    pingHomeserver: () => matrix.ping(),
    powerLevel: (roomId, userId) => powerLevelIn(matrix, roomId, userId),
    joinedMembers: async (roomId) => Object.keys(await matrix.joinedMembers(roomId)),
    invite: (roomId, user) => matrix.invite(roomId, user),
  };
  return actions;
}
