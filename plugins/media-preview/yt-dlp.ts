/**
 * Runs the yt-dlp binary: argument building, JSON output parsing, timeouts and
 * cookies.
 */
import { errorMessage } from 'trellis/sdk';
/**
 * Runs yt-dlp as a subprocess: never through a shell, always with a timeout,
 * and with its output kept bounded so a chatty run cannot eat memory.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface YtDlpSettings {
  /** The binary; '' = the project's .venv/bin/yt-dlp if installed, else yt-dlp on PATH. */
  path: string;
  proxy: string;
  cookiesFile: string;
  extraArgs: string[];
  timeoutMs: number;
}

export interface YtDlpResult {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

// The bundled plugin sits at plugins/media-preview/ in the checkout, or at dist/plugins/media-preview/ when
// compiled (scripts/build-server.ts); `npm run setup:yt-dlp` installs into the checkout's .venv.
const PROJECT_YT_DLP = [join(import.meta.dirname, '..', '..'), join(import.meta.dirname, '..', '..', '..')].map((root) => join(root, '.venv', 'bin', 'yt-dlp'));
const MAX_OUTPUT = 32 * 1024 * 1024;

export function ytDlpBinary(settings: Pick<YtDlpSettings, 'path'>): string {
  if (settings.path) return settings.path;
  return PROJECT_YT_DLP.find((path) => existsSync(path)) ?? 'yt-dlp';
}

/** Options every call shares: proxy, cookies, the operator's extra arguments. */
export function commonArgs(settings: YtDlpSettings, cookies: string | null): string[] {
  const args = ['--no-warnings', '--no-progress', '--no-color', '--ignore-config', '--no-cache-dir'];
  if (settings.proxy) args.push('--proxy', settings.proxy);
  if (cookies) args.push('--cookies', cookies);
  return [...args, ...settings.extraArgs];
}

export class YtDlpMissingError extends Error {}

export async function runYtDlp(settings: YtDlpSettings, args: string[], cwd: string): Promise<YtDlpResult> {
  const binary = ytDlpBinary(settings);
  // yt-dlp writes the cookie jar back when it exits: give it a copy in the run's temp folder,
  // so the operator's file (maybe read-only, e.g. a systemd credential) is never rewritten.
  let cookies: string | null = null;
  if (settings.cookiesFile) {
    cookies = join(cwd, 'cookies.txt');
    try {
      await copyFile(settings.cookiesFile, cookies);
    } catch (err) {
      throw new Error(`cannot read cookies_file ${settings.cookiesFile}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`);
    }
  }
  return new Promise((resolve, reject) => {
    // detached: a timeout kills yt-dlp and anything it started (ffmpeg) as one process group.
    const child = spawn(binary, [...commonArgs(settings, cookies), ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, PYTHONUNBUFFERED: '1' } });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      if (stdout.length < MAX_OUTPUT) stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-64 * 1024);
    });
    const kill = () => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, settings.timeoutMs);
    child.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (err.code === 'ENOENT') {
        reject(new YtDlpMissingError(`yt-dlp not found (${binary}); install it with "npm run setup:yt-dlp" in the Trellis folder or set yt_dlp_path in the instance config`));
      } else reject(new Error(`could not start yt-dlp (${binary}): ${err.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut });
    });
  });
}
