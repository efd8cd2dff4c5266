/**
 * Media previews: an Instagram link posted in a room comes back as the
 * post's images and videos, uploaded to the homeserver, with a caption.
 *
 * Path of a link: findLinks → cache (instant answer) → shared in-flight
 * extraction → per-room queue (Scheduler: pace, concurrency, cool-down) →
 * yt-dlp / Instagram web endpoints into a temp dir → upload for the room →
 * cache → send. Pending jobs are kept in storage until answered, so a
 * restart picks them up again.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { imageSize } from 'image-size';
import { definePlugin, escapeHtml, type JsonValue, type MediaMsgtype, type MessageEvent, type PluginContext, type RoomMedia, errorMessage } from 'trellis/sdk';
import { extractDirectImage, extractPost, extractProfile, type ExtractSettings, type LocalImage } from './extract.ts';
import { ExtractionFailure, retryable, userMessage, type FailureKind } from './failures.ts';
import { findLinks, linkKey, type ExtraSource, type Link } from './links.ts';
import { captionMessage, itemLabel, megabytes, profileMessage, type PostMeta, type ProfileMeta } from './render.ts';
import { Scheduler } from './scheduler.ts';

interface Config {
  [key: string]: unknown;
  yt_dlp_path: string;
  proxy: string;
  cookies_file: string;
  extra_args: string[];
  timeout_seconds: number;
  max_file_size_mb: number;
  reply_mode: 'reply' | 'thread' | 'plain';
  requests_per_minute: number;
  concurrency: number;
  max_retries: number;
  cooldown_seconds: number;
  cache_ttl_hours: number;
  caption_max_length: number;
  profile_posts: number;
  extra_sources: ExtraSource[];
  temp_dir: string;
  notify_after_failures: number;
  queue_notice_after_seconds: number;
}

/** Where an answer goes: the room, and the message it answers. */
interface Target {
  roomId: string;
  eventId: string;
  threadRoot?: string;
}

interface SentItem {
  msgtype: MediaMsgtype;
  body: string;
  filename?: string;
  info: { [key: string]: JsonValue };
  media: RoomMedia;
  thumbnail?: { media: RoomMedia; info: { [key: string]: JsonValue } };
}

/** What a link turned into, ready to send again: stored in the cache per kind of room. */
interface Preview {
  kind: 'post' | 'profile';
  meta: PostMeta | ProfileMeta;
  items: SentItem[];
  /** Lines added to the caption, e.g. about a video too large to post. */
  notes: string[];
}

interface CacheEntry {
  storedAt: number;
  /** Uploaded media differ for plain (url) and encrypted (file) rooms. */
  plain?: Preview;
  encrypted?: Preview;
}

interface PendingJob {
  target: Target;
  url: string;
}

type Mode = 'plain' | 'encrypted';

/** Failures that say something about the bot's setup or Instagram, not about the one link. */
const SYSTEMIC: ReadonlySet<FailureKind> = new Set(['rate_limited', 'timeout', 'unknown', 'tool_missing', 'unavailable']);

const realClock = {
  now: () => Date.now(),
  schedule: (fn: () => void, ms: number) => {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
};

function hashKey(text: string): string {
  return createHash('sha256').update(text).digest('base64url').slice(0, 22);
}

function cacheKey(link: Link): string {
  return link.kind === 'generic' ? `cache:${link.source}:${hashKey(link.url)}` : `cache:${linkKey(link)}`;
}

function toJson(value: Record<string, unknown>): { [key: string]: JsonValue } {
  return JSON.parse(JSON.stringify(value)) as { [key: string]: JsonValue };
}

async function imageInfo(image: LocalImage, data: Uint8Array): Promise<{ [key: string]: JsonValue }> {
  let { width, height } = image;
  if (!width || !height) {
    try {
      ({ width, height } = imageSize(data));
    } catch {
      // Unknown format: clients lay it out once loaded.
    }
  }
  return toJson({ mimetype: image.mimetype, size: data.byteLength, w: width, h: height });
}

export default definePlugin<Config>({
  async setup(ctx: PluginContext<Config>) {
    const extractions = ctx.metrics.counter('extractions_total', 'Extractions started (yt-dlp or Instagram web endpoint)');
    const failures = ctx.metrics.counter('failures_total', 'Failed extractions by kind', ['kind']);
    const cacheHits = ctx.metrics.counter('cache_hits_total', 'Links answered from the cache');
    const queueLength = ctx.metrics.gauge('queue_length', 'Links waiting for an extraction');
    const config = () => ctx.config;
    const scheduler = new Scheduler(
      { requestsPerMinute: config().requests_per_minute, concurrency: config().concurrency },
      {
        now: realClock.now,
        schedule: (fn, ms) => ctx.timers.setTimeout(fn, ms),
      },
      (queued) => queueLength.set(queued),
    );
    queueLength.set(0);
    ctx.onConfigChange((next) => {
      scheduler.settings = { requestsPerMinute: next.requests_per_minute, concurrency: next.concurrency };
    });

    let uploadLimit: number | null | undefined;
    const maxBytes = async (): Promise<number> => {
      if (uploadLimit === undefined) uploadLimit = await ctx.matrix.maxUploadSize().catch(() => null);
      const own = config().max_file_size_mb * 1024 * 1024;
      return uploadLimit ? Math.min(own, uploadLimit) : own;
    };
    const extractSettings = async (): Promise<ExtractSettings> => ({
      ytDlp: {
        path: config().yt_dlp_path,
        proxy: config().proxy,
        cookiesFile: config().cookies_file,
        extraArgs: config().extra_args,
        timeoutMs: config().timeout_seconds * 1000,
      },
      maxBytes: await maxBytes(),
      profilePosts: config().profile_posts,
    });

    /** Reply / thread relation of the n-th message of an answer. */
    const relation = (target: Target, first: boolean) => {
      const mode = config().reply_mode;
      if (mode === 'thread') return { threadRoot: target.threadRoot ?? target.eventId, replyTo: first ? target.eventId : undefined };
      if (target.threadRoot) return { threadRoot: target.threadRoot, replyTo: first ? target.eventId : undefined };
      return mode === 'reply' && first ? { replyTo: target.eventId } : {};
    };
    const say = (target: Target, text: string) => ctx.matrix.sendText(target.roomId, text, undefined, { notice: true, ...relation(target, true) });

    async function send(target: Target, preview: Preview): Promise<void> {
      let first = true;
      for (const item of preview.items) {
        await ctx.matrix.sendMedia(target.roomId, item.media, {
          msgtype: item.msgtype,
          body: item.body,
          filename: item.filename,
          info: item.info,
          thumbnail: item.thumbnail,
          ...relation(target, first),
        });
        first = false;
      }
      const message = preview.kind === 'post' ? captionMessage(preview.meta as PostMeta, config().caption_max_length) : profileMessage(preview.meta as ProfileMeta, config().caption_max_length);
      const text = [message.text, ...preview.notes].join('\n');
      const html = [message.html, ...preview.notes.map((n) => `<i>${escapeHtml(n)}</i>`)].join('<br>');
      await ctx.matrix.sendText(target.roomId, text, html, { notice: true, ...relation(target, first) });
    }

    /** Downloads, uploads for the room's kind, and forgets the files. */
    async function build(link: Link, roomId: string): Promise<Preview> {
      const dir = await mkdtemp(join(config().temp_dir || tmpdir(), 'trellis-preview-'));
      try {
        const settings = await extractSettings();
        extractions.inc();
        const extractStarted = Date.now();
        const extracted =
          link.kind === 'profile'
            ? await extractProfile(link, settings, dir)
            : link.kind === 'generic'
              ? ((await extractDirectImage(link.url, settings, dir, link.source)) ?? (await extractPost(link.url, settings, dir, link.source)))
              : await extractPost(link.url, settings, dir);
        // bench/preview-latency.ts subtracts this from the end-to-end time to get the platform's overhead.
        ctx.log.info(`extracted ${link.url} in ${Date.now() - extractStarted} ms`, { extraction_ms: Date.now() - extractStarted });
        const upload = async (image: LocalImage) => {
          const data = await readFile(image.path);
          return { media: await ctx.matrix.uploadForRoom(roomId, data, { contentType: image.mimetype }), info: await imageInfo(image, data) };
        };
        const items: SentItem[] = [];
        const notes: string[] = [];
        if (extracted.kind === 'profile') {
          for (const [i, image] of extracted.recent.entries()) {
            const { media, info } = await upload(image);
            items.push({ msgtype: 'm.image', body: `Recent post ${i + 1} of @${extracted.meta.handle}`, info, media });
          }
          return { kind: 'profile', meta: extracted.meta, items, notes };
        }
        const total = extracted.items.length;
        for (const [i, item] of extracted.items.entries()) {
          const label = itemLabel(i, total);
          const site = extracted.meta.site ?? 'Instagram';
          const name = `${extracted.meta.handle ? `@${extracted.meta.handle} ` : ''}${label}`.trim() || site;
          if (item.kind === 'image') {
            const { media, info } = await upload(item);
            items.push({ msgtype: 'm.image', body: `${name}.${item.mimetype.split('/')[1] ?? 'jpg'}`, info, media });
            continue;
          }
          const thumbnail = item.thumbnail ? await upload(item.thumbnail) : undefined;
          if (item.tooLarge) {
            const size = item.tooLarge.size ? `${megabytes(item.tooLarge.size)}, ` : '';
            notes.push(`${label ? `Video ${label}` : 'The video'} is too large to post here (${size}limit ${megabytes(settings.maxBytes)}): open it on ${site}.`);
            if (thumbnail) items.push({ msgtype: 'm.image', body: `${name} (video preview)`, info: thumbnail.info, media: thumbnail.media });
            continue;
          }
          if (item.failed) {
            ctx.log.warn(`yt-dlp saved no video for ${extracted.meta.url}: ${item.failed.reason}`);
            notes.push(`${label ? `Video ${label}` : 'The video'} could not be downloaded: open it on ${site}.`);
            if (thumbnail) items.push({ msgtype: 'm.image', body: `${name} (video preview)`, info: thumbnail.info, media: thumbnail.media });
            continue;
          }
          const data = await readFile(item.path);
          const media = await ctx.matrix.uploadForRoom(roomId, data, { contentType: item.mimetype });
          const info = toJson({ mimetype: item.mimetype, size: data.byteLength, w: item.width, h: item.height, duration: item.durationMs });
          items.push({ msgtype: 'm.video', body: `${name}.mp4`, info, media, thumbnail });
        }
        return { kind: 'post', meta: extracted.meta, items, notes };
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }

    const isFresh = (entry: CacheEntry) => Date.now() - entry.storedAt <= config().cache_ttl_hours * 3600_000;

    async function fromCache(link: Link, mode: Mode): Promise<Preview | null> {
      const entry = (await ctx.storage.get(cacheKey(link))) as CacheEntry | undefined;
      if (!entry || !isFresh(entry)) return null;
      return (entry[mode] as Preview | undefined) ?? null;
    }

    async function remember(link: Link, mode: Mode, preview: Preview): Promise<void> {
      const key = cacheKey(link);
      const existing = (await ctx.storage.get(key)) as CacheEntry | undefined;
      const fresh = existing && isFresh(existing) ? existing : { storedAt: Date.now() };
      await ctx.storage.set(key, toJson({ ...fresh, [mode]: preview }));
    }

    let stopped = false;

    /** One extraction per link and kind of room, however many rooms ask at once. */
    const inflight = new Map<string, Promise<Preview>>();
    let consecutiveFailures = 0;
    let coolDownStreak = 0;

    function extractQueued(link: Link, mode: Mode, target: Target, notify: (text: string) => Promise<unknown>): Promise<Preview> {
      const key = `${cacheKey(link)}:${mode}`;
      const running = inflight.get(key);
      if (running) return running;
      const promise = new Promise<Preview>((resolve, reject) => {
        let attempt = 0;
        let toldAboutCoolDown = false;
        const job = {
          roomId: target.roomId,
          source: link.source,
          run: async () => {
            attempt++;
            try {
              const preview = await build(link, target.roomId);
              consecutiveFailures = 0;
              coolDownStreak = 0;
              await remember(link, mode, preview);
              resolve(preview);
            } catch (err) {
              const failure = err instanceof ExtractionFailure ? err : new ExtractionFailure(err instanceof Error && err.name === 'YtDlpMissingError' ? 'tool_missing' : 'unknown', errorMessage(err));
              failures.inc({ kind: failure.kind });
              if (failure.kind === 'rate_limited') {
                coolDownStreak++;
                const wait = failure.retryAfterMs ?? config().cooldown_seconds * 1000 * 2 ** Math.min(coolDownStreak - 1, 5);
                scheduler.coolDown(link.source, Math.min(wait, 3600_000));
              }
              if (retryable(failure.kind) && attempt <= config().max_retries) {
                ctx.log.warn(`preview of ${link.url} failed (${failure.kind}, attempt ${attempt}): ${failure.message}; retrying`, { room: target.roomId });
                if (failure.kind === 'rate_limited') {
                  if (!toldAboutCoolDown) {
                    toldAboutCoolDown = true;
                    const until = scheduler.coolingUntil(link.source);
                    const seconds = until ? Math.ceil((until - Date.now()) / 1000) : config().cooldown_seconds;
                    await notify(`Instagram asks this bot to slow down; trying ${link.url} again in about ${seconds} s.`).catch(() => undefined);
                  }
                  scheduler.add(job, true);
                } else {
                  ctx.timers.setTimeout(() => scheduler.add(job, true), 1000 * 2 ** attempt);
                }
                return;
              }
              if (SYSTEMIC.has(failure.kind)) {
                consecutiveFailures++;
                if (consecutiveFailures >= config().notify_after_failures) {
                  ctx.log.error(`media previews are failing: ${consecutiveFailures} in a row, the last for ${link.url} (${failure.kind}): ${failure.message}`);
                } else ctx.log.warn(`preview of ${link.url} failed (${failure.kind}): ${failure.message}`, { room: target.roomId });
              } else {
                ctx.log.warn(`preview of ${link.url} failed (${failure.kind}): ${failure.message}`, { room: target.roomId });
              }
              const until = scheduler.coolingUntil(link.source);
              reject(Object.assign(failure, { userText: userMessage(failure, link.url, until ? until - Date.now() : null, config().max_file_size_mb) }));
            }
          },
        };
        scheduler.add(job);
      });
      inflight.set(key, promise);
      const forget = () => inflight.delete(key);
      promise.then(forget, forget);
      return promise;
    }

    /** The preview of one link: from the cache at once, else from a (shared or queued) extraction. */
    async function prepare(link: Link, mode: Mode, target: Target): Promise<{ preview: Promise<Preview>; queued: boolean }> {
      const cached = await fromCache(link, mode);
      if (cached) {
        cacheHits.inc();
        return { preview: Promise.resolve(cached), queued: false };
      }
      const queued = !inflight.has(`${cacheKey(link)}:${mode}`);
      return { preview: extractQueued(link, mode, target, (text) => say(target, text)), queued };
    }

    /**
     * Answers the links of one message: all are queued at once (so the pace
     * and the queue see the whole burst), answers go out in the message's order.
     */
    function answer(links: Link[], target: Target, resumed: boolean): void {
      void (async () => {
        const mode: Mode = (await ctx.matrix.mediaEncryptedFor(target.roomId)) ? 'encrypted' : 'plain';
        const jobs = [];
        // How long until the first and the last of this message's extractions start.
        let first: { ahead: number; waitMs: number } | null = null;
        let last: { ahead: number; waitMs: number } | null = null;
        for (const link of links) {
          const jobKey = `job:${target.eventId}:${linkKey(link).slice(0, 200)}`;
          if (!resumed) await ctx.storage.set(jobKey, toJson({ target, url: link.url }));
          const estimate = scheduler.estimate(target.roomId, link.source);
          const prepared = await prepare(link, mode, target);
          // A failure is answered in its turn below; this only keeps it from being "unhandled" meanwhile.
          prepared.preview.catch(() => undefined);
          if (prepared.queued) {
            first ??= estimate;
            last = estimate;
          }
          jobs.push({ link, jobKey, ...prepared });
        }
        if (first && last && !resumed && (first.ahead > 0 || last.waitMs >= config().queue_notice_after_seconds * 1000)) {
          const what = links.length === 1 ? 'this link' : `${links.length} links`;
          const ahead = first.ahead > 0 ? `${first.ahead} ahead` : 'next in line';
          const seconds = Math.max(1, Math.round((last.waitMs + scheduler.typicalMs) / 1000));
          await say(target, `Queued ${what}: ${ahead}, about ${seconds} s.`).catch(() => undefined);
        }
        for (const job of jobs) {
          try {
            let preview: Preview;
            try {
              preview = await job.preview;
              // Stopped meanwhile (restart, new config): the job stays stored and the next start answers it.
              if (stopped) return;
            } catch (err) {
              if (stopped) return;
              await say(target, (err as { userText?: string }).userText ?? `Can't preview ${job.link.url} right now.`);
              continue;
            }
            await send(target, preview);
          } catch (err) {
            ctx.log.error(`preview of ${job.link.url} could not be sent: ${errorMessage(err)}`, { room: target.roomId, err });
          } finally {
            if (!stopped) await ctx.storage.delete(job.jobKey);
          }
        }
      })().catch((err: Error) => ctx.log.error(`previews for ${target.eventId} failed: ${err.message}`, { room: target.roomId, err }));
    }

    ctx.onMessage((message: MessageEvent) => {
      // Notices are other bots (and link previews of bridges); never answer them.
      if (message.msgtype === 'm.notice') return;
      const links = findLinks(message.body, message.formattedBody, config().extra_sources);
      if (links.length === 0) return;
      const rel = message.event.content['m.relates_to'] as { rel_type?: string; event_id?: string } | undefined;
      answer(links, { roomId: message.roomId, eventId: message.eventId, threadRoot: rel?.rel_type === 'm.thread' ? rel.event_id : undefined }, false);
    });

    // Links that were waiting when the daemon stopped.
    const pending = (await ctx.storage.list('job:')) as unknown as Array<{ key: string; value: PendingJob }>;
    for (const { value } of pending) {
      const links = findLinks(value.url, undefined, config().extra_sources);
      if (links.length) answer(links.slice(0, 1), value.target, true);
    }
    if (pending.length) ctx.log.info(`resuming ${pending.length} preview(s) that were pending at the last stop`);

    ctx.onStop(() => {
      stopped = true;
      scheduler.stop();
    });
  },
});
