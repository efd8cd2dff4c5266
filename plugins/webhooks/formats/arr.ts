/**
 * The *arr apps' "Webhook" connection (Sonarr, Radarr, Readarr, Lidarr). They
 * share one payload scheme (NzbDrone.Core.Notifications.Webhook): eventType,
 * instanceName, applicationUrl, then the app's own entity (series + episodes,
 * movie, author + books, artist + albums), release, file and health fields.
 * One renderer reads whichever entity is present; the app only names it.
 */
import { type Part, type Piece, type Severity, bytes, clip, field, joined, lines, links, rendered, titleLine } from './html.ts';
import { type Obj, arr, bool, jsonObject, num, obj, objs, str } from './read.ts';
import type { Format, Rendered } from './types.ts';

export type ArrApp = 'sonarr' | 'radarr' | 'readarr' | 'lidarr';

const APP_NAMES: Record<ArrApp, string> = { sonarr: 'Sonarr', radarr: 'Radarr', readarr: 'Readarr', lidarr: 'Lidarr' };
const MAX_ITEMS = 5;

/** eventType → what the title says and its colour. Add/delete names differ per app. */
const EVENTS: Record<string, [label: string, severity: Severity]> = {
  Test: ['Test', 'info'],
  Grab: ['Grabbed', 'info'],
  Download: ['Imported', 'ok'],
  Rename: ['Renamed', 'info'],
  Retag: ['Retagged', 'info'],
  SeriesAdd: ['Added', 'info'],
  MovieAdded: ['Added', 'info'],
  AuthorAdded: ['Added', 'info'],
  ArtistAdd: ['Added', 'info'],
  SeriesDelete: ['Deleted', 'warning'],
  MovieDelete: ['Deleted', 'warning'],
  AuthorDelete: ['Deleted', 'warning'],
  ArtistDelete: ['Deleted', 'warning'],
  AlbumDelete: ['Deleted', 'warning'],
  BookDelete: ['Deleted', 'warning'],
  EpisodeFileDelete: ['File deleted', 'warning'],
  MovieFileDelete: ['File deleted', 'warning'],
  BookFileDelete: ['File deleted', 'warning'],
  Health: ['Health issue', 'warning'],
  HealthRestored: ['Health restored', 'ok'],
  ApplicationUpdate: ['Updated', 'ok'],
  ManualInteractionRequired: ['Manual interaction required', 'warning'],
  DownloadFailure: ['Download failed', 'critical'],
  ImportFailure: ['Import failed', 'critical'],
};

function arrFormat(app: ArrApp): Format {
  return (input) => {
    const body = jsonObject(input.body);
    const eventType = str(body?.eventType);
    return body && eventType ? renderArr(app, eventType, body) : null;
  };
}

export const sonarr: Format = arrFormat('sonarr');
export const radarr: Format = arrFormat('radarr');
export const readarr: Format = arrFormat('readarr');
export const lidarr: Format = arrFormat('lidarr');

function renderArr(app: ArrApp, eventType: string, body: Obj): Rendered {
  const instance = str(body.instanceName) ?? APP_NAMES[app];
  const [baseLabel, baseSeverity] = EVENTS[eventType] ?? [eventType, 'info'];
  const upgrade = eventType === 'Download' && bool(body.isUpgrade);
  const label = upgrade ? 'Upgraded' : baseLabel;
  // HealthCheckResult is serialised camelCase (notice, warning, error).
  const level = str(body.level)?.toLowerCase();
  const severity: Severity = eventType === 'Health' ? (level === 'error' ? 'critical' : level === 'warning' ? 'warning' : 'info') : baseSeverity;

  const subject = subjectOf(body);
  const message = lines(titleLine(severity, label, subject ? `${instance}: ${subject}` : instance), ...detailLines(body), links([body.applicationUrl, `Open ${instance}`], externalLink(body)));

  if (eventType !== 'Health' && eventType !== 'HealthRestored') return rendered(message);
  // The restore repeats the check type and message: one key for both lets the plugin edit the issue message.
  const check = str(body.type) ?? str(body.message) ?? 'health';
  return rendered(message, { key: `${app}:${instance}:health:${check}`, state: eventType === 'Health' ? 'firing' : 'resolved' });
}

/** What the event is about: "Severance S02E01", "Dune: Part Two (2024)", "Brandon Sanderson – The Way of Kings". */
function subjectOf(body: Obj): string | undefined {
  const series = obj(body.series);
  if (series) {
    const episodes = objs(body.episodes);
    const title = str(series.title);
    return title && episodes.length === 1 ? `${title} ${episodeCode(episodes[0])}` : title;
  }
  const movie = obj(body.movie) ?? obj(body.remoteMovie);
  if (movie) {
    const title = str(movie.title);
    const year = num(movie.year);
    return title && year ? `${title} (${year})` : title;
  }
  const person = str(obj(body.author)?.name) ?? str(obj(body.artist)?.name);
  const works = [obj(body.book), obj(body.album), ...objs(body.books), ...objs(body.albums)].filter((w) => w !== undefined);
  const work = works.length === 1 ? str(works[0].title) : undefined;
  return person && work ? `${person} – ${work}` : (person ?? work);
}

function episodeCode(episode: Obj): string {
  const pad = (n: number | undefined) => String(n ?? 0).padStart(2, '0');
  return `S${pad(num(episode.seasonNumber))}E${pad(num(episode.episodeNumber))}`;
}

function detailLines(body: Obj): Part[] {
  const release = obj(body.release);
  const file = obj(body.episodeFile) ?? obj(body.movieFile) ?? objs(body.trackFiles)[0] ?? objs(body.bookFiles)[0] ?? obj(body.bookFile) ?? obj(body.trackFile);
  // Lidarr and Readarr import several files at once: count and sum them.
  const files = [...objs(body.trackFiles), ...objs(body.bookFiles)];
  const fileCount = files.length;
  const fileSize = fileCount > 0 ? files.reduce((sum, f) => sum + (num(f.size) ?? 0), 0) : num(file?.size);
  const episodes = objs(body.episodes);
  const works = [...objs(body.books), ...objs(body.albums)];
  // ManualInteractionRequired: why the import stalled, as [{title, messages: string[]}].
  const statusMessages = objs(body.downloadStatusMessages)
    .flatMap((m) => [str(m.title), ...arr(m.messages).map(str)])
    .filter((m) => m !== undefined);
  const text = str(body.message);
  const previous = str(body.previousVersion);
  const next = str(body.newVersion);

  return [
    episodes.length > 0 ? field('Episodes', itemList(episodes.map((e) => [episodeCode(e), str(e.title)].filter(Boolean).join(' ')))) : undefined,
    works.length > 1 ? field(body.books ? 'Books' : 'Albums', itemList(works.map((w) => str(w.title)))) : undefined,
    text ? clip(text, 1000) : undefined,
    field('Release', str(release?.releaseTitle) ?? str(obj(body.downloadInfo)?.title) ?? str(body.releaseTitle)),
    fileCount > 1 ? field('Files', String(fileCount)) : field('File', str(file?.relativePath) ?? str(file?.path)),
    joined(
      [
        field('Quality', str(file?.quality) ?? str(release?.quality) ?? str(obj(body.downloadInfo)?.quality) ?? str(body.quality)),
        field('Size', bytes(num(release?.size) ?? fileSize)),
        field('Indexer', str(release?.indexer)),
        field('Client', str(body.downloadClient)),
      ],
      ' · ',
    ),
    field('Reason', str(body.deleteReason)),
    field('Check', str(body.type)),
    previous && next ? field('Version', `${previous} → ${next}`) : undefined,
    statusMessages.length > 0 ? clip(statusMessages.join('; '), 500) : undefined,
    links([body.wikiUrl, 'Wiki']),
  ];
}

function itemList(items: (string | undefined)[]): Piece {
  const present = items.filter((i) => i !== undefined && i !== '');
  const shown = present.slice(0, MAX_ITEMS);
  // Episode and book titles contain commas; semicolons keep the items apart.
  return joined([...shown, present.length > MAX_ITEMS ? `and ${present.length - MAX_ITEMS} more` : undefined], '; ');
}

/** The catalogue page of the entity, when its id is plausible. */
function externalLink(body: Obj): [url: unknown, label: string] {
  const tvdb = num(obj(body.series)?.tvdbId);
  if (tvdb !== undefined && tvdb > 0) return [`https://www.thetvdb.com/?tab=series&id=${tvdb}`, 'TVDB'];
  const tmdb = num(obj(body.movie)?.tmdbId) ?? num(obj(body.remoteMovie)?.tmdbId);
  if (tmdb !== undefined && tmdb > 0) return [`https://www.themoviedb.org/movie/${tmdb}`, 'TMDb'];
  const mbid = str(obj(body.artist)?.mbId);
  if (mbid !== undefined && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(mbid)) return [`https://musicbrainz.org/artist/${mbid}`, 'MusicBrainz'];
  return [undefined, ''];
}
