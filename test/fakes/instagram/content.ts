/**
 * The JSON and HTML the fake Instagram answers with, in Instagram's own shapes: the media "product"
 * (`/api/v1/media/{pk}/info/` items and the web page's `xig_polaris_media.if_not_gated_logged_out`),
 * `web_profile_info`, and the pages yt-dlp scrapes (home page with the LSD token, post permalink
 * with the `RelayPrefetchedStreamCache` data-sjs script).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { FakePost, FakeProfile } from '../instagram.ts';

const TABLE = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** yt-dlp's `_id_to_pk`: base64-ish decode; private-post codes carry 28 extra characters. */
export function shortcodeToPk(code: string): bigint {
  const s = code.length > 28 ? code.slice(0, -28) : code;
  let n = 0n;
  for (const ch of s) {
    const i = TABLE.indexOf(ch);
    if (i < 0) throw new Error(`invalid character ${JSON.stringify(ch)} in shortcode ${code}`);
    n = n * 64n + BigInt(i);
  }
  return n;
}

export function pkToShortcode(pk: bigint): string {
  let s = '';
  do {
    s = TABLE[Number(pk % 64n)] + s;
    pk /= 64n;
  } while (pk > 0n);
  return s;
}

/** JSON.stringify, with bigint written as a bare number (media pks exceed 2^53, as on Instagram). */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `__bigint__${v}__` : v)).replace(/"__bigint__(\d+)__"/g, '$1');
}

/** For JSON inside <script>: Instagram escapes slashes, and `<` must not close the element. */
function scriptJson(value: unknown): string {
  return toJson(value).replace(/\//g, '\\/').replace(/</g, '\\u003c');
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A stable fake numeric id for things the test did not number (profiles without posts). */
export function numericId(seed: string): string {
  return String(BigInt('0x' + createHash('sha256').update(seed).digest('hex').slice(0, 13)) + 1_000_000n);
}

export interface MediaUrls {
  /** full-size display image (image items) or poster frame (video items) */
  image: string;
  /** half-size candidate (profile `thumbnail_src`) */
  small: string;
  video?: string;
  videoLow?: string;
}

export function half(n: number): number {
  return Math.max(2, Math.round(n / 2 / 2) * 2);
}

/** pk of the i-th carousel child; the post itself keeps the shortcode's pk. */
export function childPk(post: FakePost, index: number): bigint {
  return shortcodeToPk(post.shortcode) + BigInt(index + 1);
}

export function product(post: FakePost, urls: MediaUrls[], profilePicUrl: string): Record<string, unknown> {
  const pk = shortcodeToPk(post.shortcode);
  const owner = post.owner;
  const takenAt = post.taken_at ?? 1_700_000_000;
  const user = {
    pk: owner.pk,
    pk_id: owner.pk,
    id: owner.pk,
    username: owner.username,
    full_name: owner.full_name,
    is_private: post.state === 'private',
    is_verified: false,
    profile_pic_id: `${owner.pk}_${owner.pk}`,
    profile_pic_url: profilePicUrl,
  };
  const mediaOf = (itemPk: bigint, i: number): Record<string, unknown> => {
    const item = post.items[i];
    const u = urls[i];
    const fields: Record<string, unknown> = {
      id: `${itemPk}_${owner.pk}`,
      pk: itemPk,
      media_type: item.kind === 'video' ? 2 : 1,
      image_versions2: {
        candidates: [
          { width: item.width, height: item.height, url: u.image },
          { width: half(item.width), height: half(item.height), url: u.small },
        ],
      },
      original_width: item.width,
      original_height: item.height,
      accessibility_caption: item.kind === 'image' ? `Photo by ${owner.full_name}.` : null,
    };
    if (item.kind === 'video') {
      fields.video_versions = [
        { type: 101, width: item.width, height: item.height, url: u.video, id: `${itemPk % 10n ** 15n}v` },
        { type: 102, width: half(item.width), height: half(item.height), url: u.videoLow, id: `${(itemPk % 10n ** 15n) + 1n}v` },
      ];
      fields.video_duration = item.duration ?? 1;
      fields.has_audio = false;
      fields.number_of_qualities = 2;
    }
    return fields;
  };
  const base: Record<string, unknown> = {
    taken_at: takenAt,
    pk,
    id: `${pk}_${owner.pk}`,
    device_timestamp: takenAt * 1000,
    code: post.shortcode,
    client_cache_key: Buffer.from(`${pk}.${owner.pk}`).toString('base64url'),
    filter_type: 0,
    caption_is_edited: false,
    like_and_view_counts_disabled: false,
    has_liked: false,
    like_count: post.likes ?? 0,
    comment_count: post.comments ?? 0,
    commenting_disabled_for_viewer: false,
    user,
    owner: user,
    caption:
      post.caption == null
        ? null
        : {
            pk: String(pk + 7n),
            user_id: owner.pk,
            text: post.caption,
            type: 1,
            created_at: takenAt,
            created_at_utc: takenAt,
            content_type: 'comment',
            status: 'Active',
            media_id: pk,
            has_translation: false,
          },
  };
  if (post.items.length > 1) {
    return {
      ...base,
      media_type: 8,
      product_type: 'carousel_container',
      carousel_media_count: post.items.length,
      carousel_media: post.items.map((_item, i) => ({
        ...mediaOf(childPk(post, i), i),
        carousel_parent_id: `${pk}_${owner.pk}`,
        product_type: 'carousel_item',
        taken_at: takenAt,
      })),
    };
  }
  return { ...base, ...mediaOf(pk, 0), id: `${pk}_${owner.pk}`, product_type: post.items[0].kind === 'video' ? 'clips' : 'feed' };
}

const HEAD =
  '<!DOCTYPE html><html class="_9dls" lang="en" dir="ltr"><head><meta charset="utf-8">' +
  '<meta name="viewport" content="width=device-width, initial-scale=1, minimum-scale=1, maximum-scale=1, viewport-fit=cover">';

export function homePage(lsd: string): string {
  const eqmc = {
    u: '/ajax/qm/?__a=1&__user=0&__comet_req=7&jazoest=2' + randomBytes(2).readUInt16BE(0),
    e: randomBytes(12).toString('base64url'),
    s: ':' + randomBytes(4).toString('hex'),
    w: 0,
    f: randomBytes(16).toString('base64url'),
    l: lsd,
  };
  const sjs = { require: [['ScheduledServerJS', 'handle', null, [{ __bbox: { define: [['LSD', [], { token: lsd }, 323]] } }]]] };
  return (
    `${HEAD}<title>Instagram</title>` +
    `<script type="application/json" id="__eqmc" data-content-len="${scriptJson(eqmc).length}">${scriptJson(eqmc)}</script>` +
    `<script type="application/json" data-content-len="${scriptJson(sjs).length}" data-sjs>${scriptJson(sjs)}</script>` +
    '</head><body><div id="splash-screen"></div></body></html>'
  );
}

/** The permalink page; `media` null renders the page without the post (login wall). */
export function postPage(post: FakePost, media: Record<string, unknown> | null, ogImage: string | null): string {
  const o = post.owner;
  const title = `${o.full_name} on Instagram${post.caption ? `: "${post.caption}"` : ''}`;
  const date = new Date((post.taken_at ?? 1_700_000_000) * 1000).toLocaleDateString('en-US', { month: 'long', day: 'numeric', year: 'numeric', timeZone: 'UTC' });
  const description = `${post.likes ?? 0} likes, ${post.comments ?? 0} comments - ${o.username} on ${date}${post.caption ? `: "${post.caption}"` : ''}`;
  let scripts = '';
  if (media) {
    const payload = {
      require: [
        [
          'ScheduledServerJS',
          'handle',
          null,
          [
            {
              __bbox: {
                require: [
                  [
                    'RelayPrefetchedStreamCache',
                    'next',
                    [],
                    [
                      `adp_PolarisPostRootQueryRelayPreloader_${createHash('md5').update(post.shortcode).digest('hex').slice(0, 22)}`,
                      { __bbox: { complete: true, result: { data: { xig_polaris_media: { ...media, comments_connection: { edges: [] } } }, extensions: { is_final: true } }, sequence_number: 0 } },
                    ],
                  ],
                ],
              },
            },
          ],
        ],
      ],
    };
    const json = scriptJson(payload);
    scripts = `<script type="application/json" data-content-len="${json.length}" data-sjs>${json}</script>`;
  }
  const meta = media
    ? `<meta property="og:type" content="article"><meta property="og:title" content="${escapeHtml(title)}">` +
      `<meta property="og:description" content="${escapeHtml(description)}"><meta name="description" content="${escapeHtml(description)}">` +
      `<meta property="og:url" content="https://www.instagram.com/p/${post.shortcode}/">` +
      (ogImage ? `<meta property="og:image" content="${escapeHtml(ogImage)}">` : '')
    : '';
  return `${HEAD}<title>${escapeHtml(media ? title : 'Instagram')}</title>${meta}${scripts}</head><body></body></html>`;
}

export function notFoundPage(): string {
  return (
    `${HEAD}<title>Page not found • Instagram</title></head><body><h2>Sorry, this page isn't available.</h2>` +
    '<p>The link you followed may be broken, or the page may have been removed.</p></body></html>'
  );
}

export function loginPage(): string {
  return `${HEAD}<title>Login • Instagram</title></head><body><form id="loginForm"></form></body></html>`;
}

export interface ProfilePostRef {
  post: FakePost;
  urls: MediaUrls[];
}

export function webProfileInfo(profile: FakeProfile, id: string, pic: string, recent: ProfilePostRef[]): Record<string, unknown> {
  const edges = profile.is_private
    ? []
    : recent.map(({ post, urls }) => {
        const first = post.items[0];
        const typename = post.items.length > 1 ? 'GraphSidecar' : first.kind === 'video' ? 'GraphVideo' : 'GraphImage';
        return {
          node: {
            __typename: typename,
            id: String(shortcodeToPk(post.shortcode)),
            shortcode: post.shortcode,
            dimensions: { height: first.height, width: first.width },
            display_url: urls[0].image,
            thumbnail_src: urls[0].small,
            thumbnail_resources: [{ src: urls[0].small, config_width: half(first.width), config_height: half(first.height) }],
            is_video: typename === 'GraphVideo',
            ...(typename === 'GraphVideo' ? { video_url: urls[0].video, video_view_count: 0 } : {}),
            edge_media_to_caption: { edges: post.caption ? [{ node: { text: post.caption } }] : [] },
            edge_media_to_comment: { count: post.comments ?? 0 },
            edge_liked_by: { count: post.likes ?? 0 },
            edge_media_preview_like: { count: post.likes ?? 0 },
            comments_disabled: false,
            taken_at_timestamp: post.taken_at ?? 1_700_000_000,
            owner: { id, username: profile.username },
          },
        };
      });
  return {
    data: {
      user: {
        biography: profile.biography,
        bio_links: [],
        external_url: null,
        edge_followed_by: { count: profile.followers },
        edge_follow: { count: profile.following },
        full_name: profile.full_name,
        id,
        fbid: String(BigInt(id) + 17_841_400_000_000_000n),
        is_private: profile.is_private ?? false,
        is_verified: false,
        is_business_account: false,
        profile_pic_url: pic,
        profile_pic_url_hd: pic,
        username: profile.username,
        edge_owner_to_timeline_media: {
          count: profile.posts,
          page_info: { has_next_page: profile.posts > edges.length, end_cursor: edges.length ? randomBytes(24).toString('base64url') : null },
          edges,
        },
      },
    },
    status: 'ok',
  };
}
