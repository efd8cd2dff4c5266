/** The token handshake of the websocket routes (/logs, /live): Authorization header or the token as the first message. */
import type { FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import type { SessionTokens } from './session-tokens.ts';

/** How long a websocket may take to send its token. */
const AUTH_TIMEOUT_MS = 5000;

export interface WebsocketSession {
  /** How the token came: in the handshake's Authorization header, or as a message. */
  via: 'header' | 'message';
  /** Whether the token still holds (a logout or a new token_secret ends the session: close with 4001). */
  valid(): boolean;
}

export interface HandshakeOptions {
  /**
   * maubot's protocol (`/logs`): a wrong token is answered with this message
   * and the socket waits for another one; without a valid token within 5 s it
   * closes with 4000. Without it (`/live`): a wrong token closes with 4001 at
   * once, and so does the timeout.
   */
  rejected?: string;
}

/**
 * The token handshake of the websocket routes (`/logs`, `/live`). A browser
 * cannot set headers on a websocket, so the token may come as a message
 * (within 5 s) instead of the Authorization header; server.ts lets only a
 * real handshake through without one. `begin` runs once the token is
 * accepted; what it returns runs when the socket closes.
 */
export function authenticateWebsocket(
  socket: WebSocket,
  req: FastifyRequest,
  tokens: SessionTokens,
  begin: (session: WebsocketSession) => (() => void) | undefined,
  options: HandshakeOptions = {},
): void {
  let token: string | null = null;
  let end: (() => void) | undefined;
  const start = (accepted: string | null, via: WebsocketSession['via']) => {
    token = accepted;
    end = begin({ via, valid: () => tokens.verify(token ?? '') !== null });
  };
  // The handshake's token (Authorization header or ?access_token=), checked by server.ts's hook.
  if (req.auth) start(req.auth.token, 'header');
  const timeoutCode = options.rejected === undefined ? 4001 : 4000;
  const timeout = setTimeout(() => token === null && socket.close(timeoutCode, 'authentication timeout'), AUTH_TIMEOUT_MS);
  socket.on('message', (data) => {
    if (token !== null) return;
    const sent = data.toString().trim();
    if (tokens.verify(sent)) start(sent, 'message');
    else if (options.rejected === undefined) socket.close(4001, 'invalid or expired token');
    else if (socket.readyState === socket.OPEN) socket.send(options.rejected);
  });
  socket.on('close', () => {
    clearTimeout(timeout);
    end?.();
  });
}
