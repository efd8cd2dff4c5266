/**
 * `!health` probes: a plain TCP connect (the RCON port answers) and an
 * Ollama server's `GET /api/version`. Each resolves to up or down with the
 * reason in plain words; none throws.
 */
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import { connect } from 'node:net';

export type Probe = { up: true; detail: string } | { up: false; reason: string };

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}

/** A network error in words: "connection refused", "host not found"… */
export function networkReason(err: unknown, timeoutMs: number): string {
  const e = err as { code?: string; name?: string; message?: string; cause?: { code?: string; message?: string } } | undefined;
  const code = e?.code ?? e?.cause?.code;
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found';
    case 'ECONNRESET':
      return 'connection reset';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'host unreachable';
    case 'ETIMEDOUT':
      return `no answer within ${seconds(timeoutMs)}`;
  }
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return `no answer within ${seconds(timeoutMs)}`;
  return e?.cause?.message ?? e?.message ?? String(err);
}

export function probeTcp(host: string, port: number, timeoutMs: number): Promise<Probe> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = connect({ host, port });
    const done = (probe: Probe) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(probe);
    };
    const timer = setTimeout(() => done({ up: false, reason: `no answer within ${seconds(timeoutMs)}` }), timeoutMs);
    socket.once('connect', () => done({ up: true, detail: `connected in ${Date.now() - started} ms` }));
    socket.once('error', (err) => done({ up: false, reason: networkReason(err, timeoutMs) }));
  });
}

/** GET <baseUrl>/api/version on a fresh connection (no keep-alive pool: a stopped server must read as down at once). */
export function probeOllama(baseUrl: string, timeoutMs: number): Promise<Probe> {
  let url: URL;
  try {
    url = new URL(`${baseUrl.replace(/\/+$/, '')}/api/version`);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http');
  } catch {
    return Promise.resolve({ up: false, reason: `"${baseUrl}" is not an http(s) URL` });
  }
  return new Promise((resolve) => {
    let settled = false;
    const done = (probe: Probe) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(probe);
    };
    const get = url.protocol === 'https:' ? httpsGet : httpGet;
    const req = get(url, { agent: false, headers: { accept: 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > 65_536) return done({ up: false, reason: 'answered, but not like an Ollama server (answer too long)' });
        chunks.push(chunk);
      });
      res.on('error', (err) => done({ up: false, reason: networkReason(err, timeoutMs) }));
      res.on('end', () => {
        if (res.statusCode !== 200) return done({ up: false, reason: `HTTP ${res.statusCode}` });
        let version: unknown;
        try {
          version = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { version?: unknown }).version;
        } catch {
          version = undefined;
        }
        if (typeof version !== 'string') return done({ up: false, reason: 'answered, but not like an Ollama server (no version)' });
        done({ up: true, detail: `version ${version}` });
      });
    });
    req.on('error', (err) => done({ up: false, reason: networkReason(err, timeoutMs) }));
    const timer = setTimeout(() => done({ up: false, reason: `no answer within ${seconds(timeoutMs)}` }), timeoutMs);
  });
}

export function describeProbe(label: string, probe: Probe): string {
  return probe.up ? `${label}: up (${probe.detail})` : `${label}: down — ${probe.reason}`;
}
