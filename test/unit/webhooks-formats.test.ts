/**
 * The webhooks plugin's built-in payload formats against payloads written from
 * each service's documented webhook format (test/fixtures/webhooks): what the
 * room reads (text and HTML), the colour of the marker, links, alert keys, and
 * that a payload of another kind yields null instead of a throw.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { alertmanager } from '../../plugins/webhooks/formats/alertmanager.ts';
import { apprise } from '../../plugins/webhooks/formats/apprise.ts';
import { lidarr, radarr, readarr, sonarr } from '../../plugins/webhooks/formats/arr.ts';
import { github } from '../../plugins/webhooks/formats/github.ts';
import { gitlab } from '../../plugins/webhooks/formats/gitlab.ts';
import { grafana } from '../../plugins/webhooks/formats/grafana.ts';
import { FORMAT_NAMES, FORMATS, type FormatName } from '../../plugins/webhooks/formats/index.ts';
import { owncast } from '../../plugins/webhooks/formats/owncast.ts';
import { proxmox } from '../../plugins/webhooks/formats/proxmox.ts';
import { seerr } from '../../plugins/webhooks/formats/seerr.ts';
import type { Format, Rendered } from '../../plugins/webhooks/formats/types.ts';
import { uptimeKuma } from '../../plugins/webhooks/formats/uptime-kuma.ts';
import { fixture, fixtureNames, formatOf, headersOf } from '../harness/webhook-fixtures.ts';

const RED = '#d32f2f';
const ORANGE = '#f57c00';
const GREEN = '#2e7d32';
const BLUE = '#1976d2';

/** The formats without index.ts's try/catch backstop, so a throw fails the test instead of reading as null. */
const RAW: Record<FormatName, Format> = {
  grafana,
  alertmanager,
  proxmox,
  sonarr,
  radarr,
  readarr,
  lidarr,
  'uptime-kuma': uptimeKuma,
  seerr,
  owncast,
  apprise,
  github,
  gitlab,
};

/** Renders a fixture with its format (raw, so a throw surfaces) and asserts it was recognised. */
function render(name: string, body: unknown = fixture(name)): Rendered {
  const result = RAW[formatOf(name)]({ body, headers: headersOf(name) });
  assert.ok(result, `${name} was not recognised`);
  return result;
}

/** The colour of the first marker, i.e. the title's severity. */
function colourOf(r: Rendered): string | undefined {
  return /^<font color="(#[0-9a-f]{6})">/.exec(r.html)?.[1];
}

function firstLine(r: Rendered): string {
  return r.plain.split('\n', 1)[0];
}

describe('FORMATS', () => {
  it('names the thirteen built-in formats, in the order of the config schema', () => {
    assert.deepEqual(FORMAT_NAMES, ['grafana', 'alertmanager', 'proxmox', 'sonarr', 'radarr', 'readarr', 'lidarr', 'uptime-kuma', 'seerr', 'owncast', 'apprise', 'github', 'gitlab']);
    assert.deepEqual(Object.keys(FORMATS), FORMAT_NAMES);
  });

  it('renders every fixture: a bold title first, the same words in text and HTML, no <img>', () => {
    const names = fixtureNames();
    assert.ok(names.length >= 25, `only ${names.length} fixtures`);
    for (const name of names) {
      const r = FORMATS[formatOf(name)]({ body: fixture(name), headers: headersOf(name) });
      assert.ok(r, `${name} was not recognised`);
      assert.match(r.html, /^<font color="#[0-9a-f]{6}"><b>\[[^\]]+\]<\/b><\/font>/, name);
      assert.match(firstLine(r), /^\[[^\]]+\]/, name);
      assert.doesNotMatch(r.html, /<img|<script/i, name);
      assert.equal(r.msgtype, undefined, `${name}: m.notice by default`);
      // Every word of the text is in the HTML (after tags are dropped and entities decoded).
      const htmlText = r.html
        .replace(/<br>|<\/li>|<\/?ul>/g, ' ')
        .replace(/<[^>]+>/g, '')
        .replace(/&lt;/g, '<')
        .replace(/&gt;/g, '>')
        .replace(/&quot;/g, '"')
        .replace(/&#39;/g, "'")
        .replace(/&amp;/g, '&');
      const plainWithoutUrls = r.plain.replace(/ \(https?:\/\/[^)\s]+\)/g, '').replace(/^• /gm, '');
      for (const word of plainWithoutUrls.split(/\s+/).filter(Boolean)) assert.ok(htmlText.includes(word), `${name}: "${word}" is in the text but not the HTML`);
    }
  });
});

describe('grafana', () => {
  it('firing: one message for the group, each alert with its summary, labels, values and links', () => {
    const r = render('grafana-firing');
    assert.equal(firstLine(r), '[FIRING:2] High memory usage (grafana_folder=Infrastructure)');
    assert.equal(colourOf(r), RED);
    assert.ok(r.html.startsWith(`<font color="${RED}"><b>[FIRING:2]</b></font> <b>High memory usage (grafana_folder=Infrastructure)</b><ul><li>`));
    assert.match(r.plain, /^• Memory above 90% on db-1$/m);
    assert.match(r.plain, /^ {2}The system has high memory usage$/m);
    assert.match(r.plain, /^ {2}instance=db-1\.example\.com:9100, severity=critical, team=blue$/m);
    assert.match(r.plain, /^ {2}Values: B=93\.24, C=1$/m);
    assert.match(r.plain, /^• Memory above 90% on db-2$/m);
    // Links: source, dashboard, panel, image (as a link: Matrix images must be mxc://), runbook, silence.
    assert.ok(r.html.includes('<a href="https://grafana.example.com/alerting/grafana/1afz29v7z/view?orgId=1">Source</a>'));
    assert.ok(r.html.includes('<a href="https://grafana.example.com/d/node-exporter?orgId=1&amp;viewPanel=4">Panel</a>'));
    assert.ok(r.html.includes('<a href="https://grafana.example.com/public/img/attachments/8aXbQ2kP.png">Image</a>'));
    assert.ok(r.html.includes('<a href="https://runbooks.example.com/memory">Runbook</a>'));
    assert.ok(r.plain.includes('Image (https://grafana.example.com/public/img/attachments/8aXbQ2kP.png)'));
    assert.ok(r.html.endsWith('<a href="https://grafana.example.com/">Open Grafana</a>'));
    assert.deepEqual(r.alert, {
      key: '{}/{__grafana_autogenerated__="true"}/{__grafana_receiver__="Matrix room"}:{alertname="High memory usage", grafana_folder="Infrastructure"}',
      state: 'firing',
    });
  });

  it('resolved: green, the same key, so the firing message can be edited', () => {
    const firing = render('grafana-firing');
    const resolved = render('grafana-resolved');
    assert.equal(firstLine(resolved), '[RESOLVED] High memory usage (grafana_folder=Infrastructure)');
    assert.equal(colourOf(resolved), GREEN);
    assert.equal(resolved.alert?.state, 'resolved');
    assert.equal(resolved.alert?.key, firing.alert?.key);
    assert.match(resolved.plain, /Values: B=41\.2, C=0/);
  });

  it('lists ten alerts, then "and N more" (counting the alerts the sender truncated)', () => {
    const base = fixture('grafana-firing') as { alerts: Record<string, unknown>[]; truncatedAlerts: number };
    const alerts = Array.from({ length: 12 }, (_, i) => ({ ...base.alerts[0], labels: { alertname: 'Disk full', instance: `host-${i}` }, annotations: { summary: `disk ${i} full` } }));
    const r = render('grafana-firing', { ...base, alerts, truncatedAlerts: 3 });
    assert.equal((r.html.match(/<li>/g) ?? []).length, 11);
    assert.ok(r.html.includes('<li><i>… and 5 more</i></li>'));
    assert.match(r.plain, /^… and 5 more$/m);
    assert.ok(r.plain.includes('disk 9 full'));
    assert.ok(!r.plain.includes('disk 10 full'));
  });

  it('marks each alert when a group mixes firing and resolved alerts; colours by the severity label', () => {
    const base = fixture('grafana-firing') as { alerts: Record<string, unknown>[]; commonLabels: Record<string, string> };
    const alerts = [base.alerts[0], { ...base.alerts[1], status: 'resolved' }];
    const r = render('grafana-firing', { ...base, alerts, commonLabels: { ...base.commonLabels, severity: 'warning' } });
    assert.equal(firstLine(r), '[FIRING:1] High memory usage (grafana_folder=Infrastructure)');
    assert.equal(colourOf(r), ORANGE);
    assert.match(r.plain, /^• \[FIRING\] Memory above 90% on db-1$/m);
    assert.match(r.plain, /^• \[RESOLVED\] Memory above 90% on db-2$/m);
    assert.ok(r.html.includes(`<li><font color="${GREEN}"><b>[RESOLVED]</b></font> <b>Memory above 90% on db-2</b>`));
  });

  it('keys by the sorted group labels when there is no groupKey', () => {
    const { groupKey: _, ...base } = fixture('grafana-firing') as Record<string, unknown>;
    const r = render('grafana-firing', { ...base, groupLabels: { grafana_folder: 'Infrastructure', alertname: 'High memory usage' } });
    assert.equal(r.alert?.key, '{"alertname":"High memory usage","grafana_folder":"Infrastructure"}');
  });
});

describe('alertmanager', () => {
  it('firing and resolved: the alert with its description and labels, one key for both', () => {
    const firing = render('alertmanager-firing');
    assert.equal(firstLine(firing), '[FIRING:1] ProbeFailure');
    assert.equal(colourOf(firing), RED);
    assert.match(firing.plain, /^• BlackBox probe failure: https:\/\/shop\.example\.org$/m);
    assert.match(firing.plain, /Instance https:\/\/shop\.example\.org has been down for over 5m\. Job: blackbox_http/);
    assert.match(firing.plain, /instance=https:\/\/shop\.example\.org, job=blackbox_http, severity=critical/);
    assert.ok(firing.html.includes('<a href="http://prometheus.example.org:9090/graph?g0.expr=probe_success+%3D%3D+0&amp;g0.tab=1">Source</a>'));
    assert.ok(firing.html.includes('<a href="http://alertmanager.example.org:9093/">Open Alertmanager</a>'));
    assert.deepEqual(firing.alert, { key: '{}/{severity="critical"}:{alertname="ProbeFailure"}', state: 'firing' });

    const resolved = render('alertmanager-resolved');
    assert.equal(firstLine(resolved), '[RESOLVED] ProbeFailure');
    assert.equal(colourOf(resolved), GREEN);
    assert.deepEqual(resolved.alert, { key: firing.alert?.key, state: 'resolved' });
  });
});

describe('proxmox', () => {
  it('a failed backup: red, the title, host and job fields, the log verbatim in <pre>', () => {
    const r = render('proxmox-backup-failed');
    assert.equal(firstLine(r), '[ERROR] vzdump backup status (pve1.example.com): backup failed');
    assert.equal(colourOf(r), RED);
    assert.match(r.plain, /^Host: pve1 · Type: vzdump · Job: backup-7a1e6c3f-93b2 · Time: 2024-06-10 02:00:56 UTC$/m);
    assert.match(r.html, /<pre>Details\n=======\nVMID {4}Name/);
    assert.ok(r.html.includes('storage &#39;local&#39; does not have enough free space</pre>'));
    assert.equal(r.alert, undefined);
  });

  it('colours by severity, reads fields spread at the top level, clips a huge message', () => {
    const warning = render('proxmox-x', { title: 'Package updates available', message: '', severity: 'warning', hostname: 'pve2', type: 'package-updates' });
    assert.equal(firstLine(warning), '[WARNING] Package updates available');
    assert.equal(colourOf(warning), ORANGE);
    assert.match(warning.plain, /Host: pve2 · Type: package-updates/);
    assert.equal(colourOf(render('proxmox-x', { title: 't', severity: 'info' })), BLUE);
    const long = render('proxmox-x', { title: 't', message: 'x'.repeat(10000), severity: 'error' });
    assert.ok(long.plain.length < 3200);
    assert.ok(long.plain.endsWith('…'));
  });
});

describe('the *arr apps', () => {
  it('Sonarr grab: the episode, release, quality, size, indexer, client and links', () => {
    const r = render('sonarr-grab');
    assert.equal(firstLine(r), '[Grabbed] Sonarr: Severance S02E01');
    assert.equal(colourOf(r), BLUE);
    assert.match(r.plain, /^Episodes: S02E01 Hello, Ms\. Cobel$/m);
    assert.match(r.plain, /^Release: Severance\.S02E01\.Hello\.Ms\.Cobel\.1080p\.ATVP\.WEB-DL\.DDP5\.1\.H\.264-FLUX$/m);
    assert.match(r.plain, /^Quality: WEBDL-1080p · Size: 2\.8 GiB · Indexer: NZBgeek · Client: SABnzbd$/m);
    assert.ok(r.html.includes('<a href="https://sonarr.example.com/">Open Sonarr</a>'));
    assert.ok(r.html.includes('<a href="https://www.thetvdb.com/?tab=series&amp;id=371980">TVDB</a>'));
    assert.equal(r.alert, undefined);
  });

  it('Sonarr health issue and restore: colour by level, one alert key for the pair, the wiki link', () => {
    const issue = render('sonarr-health');
    assert.equal(firstLine(issue), '[Health issue] Sonarr');
    assert.equal(colourOf(issue), ORANGE);
    assert.match(issue.plain, /^Indexers unavailable due to failures for more than 6 hours: NZBgeek$/m);
    assert.ok(issue.html.includes('<a href="https://wiki.servarr.com/sonarr/system#indexers-are-unavailable-due-to-failures-for-more-than-6-hours">Wiki</a>'));
    assert.deepEqual(issue.alert, { key: 'sonarr:Sonarr:health:IndexerLongTermStatusCheck', state: 'firing' });
    const restored = render('sonarr-health-restored');
    assert.equal(firstLine(restored), '[Health restored] Sonarr');
    assert.equal(colourOf(restored), GREEN);
    assert.deepEqual(restored.alert, { key: issue.alert?.key, state: 'resolved' });
    assert.equal(colourOf(render('sonarr-x', { ...(fixture('sonarr-health') as object), level: 'error' })), RED);
  });

  it('Radarr upgrade: the movie with its year, the file, TMDb; an empty applicationUrl links nothing', () => {
    const r = render('radarr-download');
    assert.equal(firstLine(r), '[Upgraded] Radarr 4K: Dune: Part Two (2024)');
    assert.equal(colourOf(r), GREEN);
    assert.match(r.plain, /^File: Dune Part Two \(2024\) Bluray-2160p\.mkv$/m);
    assert.match(r.plain, /Quality: Bluray-2160p · Size: 25\.0 GiB · Indexer: NZBgeek · Client: qBittorrent/);
    assert.ok(r.html.includes('<a href="https://www.themoviedb.org/movie/693134">TMDb</a>'));
    assert.ok(!r.plain.includes('Open Radarr'));
  });

  it('Readarr grab and Lidarr import: author and book, artist and album, files counted and summed', () => {
    const book = render('readarr-grab');
    assert.equal(firstLine(book), '[Grabbed] Readarr: Brandon Sanderson – The Way of Kings');
    assert.match(book.plain, /Quality: EPUB · Size: 5\.8 MiB · Indexer: MyAnonamouse · Client: Transmission/);
    const album = render('lidarr-download');
    assert.equal(firstLine(album), '[Imported] Lidarr: Radiohead – OK Computer');
    assert.match(album.plain, /^Files: 2$/m);
    assert.match(album.plain, /Quality: FLAC · Size: 73\.0 MiB · Client: qBittorrent/);
    assert.ok(album.html.includes('<a href="https://musicbrainz.org/artist/a74b1b7f-71a5-4011-9441-d0b5e4122711">MusicBrainz</a>'));
  });

  it('the Test event, an application update, and an event it does not know by name', () => {
    const test = render('radarr-x', {
      eventType: 'Test',
      instanceName: 'Radarr',
      movie: { id: 1, title: 'Test Title', year: 1970 },
      remoteMovie: { tmdbId: 1234, imdbId: '5678', title: 'Test title', year: 1970 },
    });
    assert.equal(firstLine(test), '[Test] Radarr: Test Title (1970)');
    const update = render('lidarr-x', { eventType: 'ApplicationUpdate', instanceName: 'Lidarr', message: 'Lidarr updated from 2.0.7 to 2.1.0', previousVersion: '2.0.7', newVersion: '2.1.0' });
    assert.equal(firstLine(update), '[Updated] Lidarr');
    assert.match(update.plain, /^Version: 2\.0\.7 → 2\.1\.0$/m);
    const unknown = render('readarr-x', { eventType: 'SomethingNew' });
    assert.equal(firstLine(unknown), '[SomethingNew] Readarr');
  });
});

describe('uptime-kuma', () => {
  it('down: red, the reason, the URL and the local time; up: green with the ping; one key', () => {
    const down = render('uptime-kuma-down');
    assert.equal(firstLine(down), '[DOWN] Example website');
    assert.equal(colourOf(down), RED);
    assert.match(down.plain, /^timeout of 48000ms exceeded$/m);
    assert.match(down.plain, /^https:\/\/www\.example\.com\/health · Time: 2024-09-25 01:51:35 \(Europe\/Berlin\)$/m);
    assert.ok(down.html.includes('<a href="https://www.example.com/health">https://www.example.com/health</a>'));
    assert.deepEqual(down.alert, { key: 'uptime-kuma:7', state: 'firing' });

    const up = render('uptime-kuma-up');
    assert.equal(firstLine(up), '[UP] Example website');
    assert.equal(colourOf(up), GREEN);
    assert.match(up.plain, /Ping: 143 ms$/m);
    assert.deepEqual(up.alert, { key: 'uptime-kuma:7', state: 'resolved' });
  });

  it('pending and maintenance: no alert; a host monitor shows host and port; the form-data variant', () => {
    const down = fixture('uptime-kuma-down') as { heartbeat: object; monitor: object; msg: string };
    const pending = render('uptime-kuma-x', { ...down, heartbeat: { ...down.heartbeat, status: 2 } });
    assert.equal(firstLine(pending), '[PENDING] Example website');
    assert.equal(colourOf(pending), ORANGE);
    assert.equal(pending.alert, undefined);
    const maintenance = render('uptime-kuma-x', { ...down, heartbeat: { ...down.heartbeat, status: 3 } });
    assert.equal(colourOf(maintenance), BLUE);
    assert.equal(maintenance.alert, undefined);
    const port = render('uptime-kuma-x', { ...down, monitor: { ...down.monitor, type: 'port', url: 'https://', hostname: 'db.example.com', port: 5432 } });
    assert.match(port.plain, /^db\.example\.com:5432 · Time:/m);
    const form = render('uptime-kuma-x', { data: JSON.stringify(down) });
    assert.equal(form.plain, render('uptime-kuma-down').plain);
  });

  it('the test message (no heartbeat, no monitor): the msg, no alert', () => {
    const r = render('uptime-kuma-test');
    assert.equal(r.plain, '[INFO] Uptime Kuma\nMatrix room (1) Testing');
    assert.equal(colourOf(r), BLUE);
    assert.equal(r.alert, undefined);
  });
});

describe('seerr', () => {
  it('a pending request: orange, the subject, requester, extra fields, poster as a link', () => {
    const r = render('seerr-media-pending');
    assert.equal(firstLine(r), '[Pending approval] Severance (2022)');
    assert.equal(colourOf(r), ORANGE);
    assert.match(r.plain, /^Mark leads a team of office workers/m);
    assert.match(r.plain, /^Requested by: ann · Type: tv · Status: PENDING$/m);
    assert.match(r.plain, /^Requested Seasons: 1, 2$/m);
    assert.ok(r.html.includes('<a href="https://image.tmdb.org/t/p/w600_and_h900_bestv2/lFf6LLrQjYldcZItzOkGmMMigP7.jpg">Poster</a>'));
    assert.ok(r.html.includes('<a href="https://www.themoviedb.org/tv/95396">TMDb</a>'));
  });

  it('a reported issue, an available request, the test notification', () => {
    const issue = render('seerr-issue-created');
    assert.equal(firstLine(issue), '[Issue reported] Dune: Part Two (2024)');
    assert.match(issue.plain, /^Reported by: bob · Issue: Video · Type: movie · Status: AVAILABLE$/m);
    const available = render('seerr-x', { ...(fixture('seerr-media-pending') as object), notification_type: 'MEDIA_AVAILABLE', event: 'Series Request Now Available' });
    assert.equal(firstLine(available), '[Available] Severance (2022)');
    assert.equal(colourOf(available), GREEN);
    const test = render('seerr-x', {
      notification_type: 'TEST_NOTIFICATION',
      event: '',
      subject: 'Test Notification',
      message: 'Check check, 1, 2, 3. Are we coming in clear?',
      image: '',
      media: null,
      request: null,
      issue: null,
      comment: null,
      extra: [],
    });
    assert.equal(test.plain, '[Test] Test Notification\nCheck check, 1, 2, 3. Are we coming in clear?');
  });
});

describe('owncast', () => {
  it('stream started: green, server name, stream title, summary, time', () => {
    const r = render('owncast-stream-started');
    assert.equal(r.plain, '[LIVE] Example Live\nBuilding a Matrix bot, part 3\nWeekly live coding: today we wire webhooks into Matrix rooms.\nTime: 2024-06-10 18:00:04 UTC');
    assert.equal(colourOf(r), GREEN);
    const stopped = render('owncast-x', { type: 'STREAM_STOPPED', eventData: { ...(fixture('owncast-stream-started') as { eventData: object }).eventData } });
    assert.equal(firstLine(stopped), '[OFFLINE] Example Live');
    assert.equal(colourOf(stopped), BLUE);
  });

  it('a chat message: the user and what they typed (rawBody), never Owncast’s HTML', () => {
    const r = render('owncast-chat');
    assert.equal(r.plain, '[CHAT] ann\nhello **everyone**');
    assert.doesNotMatch(r.html, /<strong>|<p>/);
  });
});

describe('apprise', () => {
  it('failure: red, title, message lines, attachment names', () => {
    const r = render('apprise');
    assert.equal(r.plain, '[FAILURE] Backup failed\nrestic backup of /srv exited with code 1:\nFatal: unable to open repository\nAttachments: restic.log');
    assert.equal(colourOf(r), RED);
    assert.ok(r.html.includes('exited with code 1:<br>Fatal: unable to open repository'));
  });

  it('each type its colour; the form variant reads the same', () => {
    const colours: Record<string, string> = { info: BLUE, success: GREEN, warning: ORANGE, failure: RED };
    for (const [type, colour] of Object.entries(colours)) assert.equal(colourOf(render('apprise', { version: '1.0', title: 't', message: 'm', type })), colour, type);
    // form:// posts the same fields url-encoded: a Record<string, string>.
    const form = render('apprise', { version: '1.0', title: 'Backup failed', message: 'disk full', type: 'warning' } satisfies Record<string, string>);
    assert.equal(form.plain, '[WARNING] Backup failed\ndisk full');
  });
});

describe('github', () => {
  it('push: who pushed how many commits where, each commit linked, the compare link', () => {
    const r = render('github-push');
    assert.equal(firstLine(r), '[push] octocat/Hello-World: octocat pushed 2 commits to main');
    assert.match(r.plain, /^• 6dcb09b \(https:\/\/github\.com\/octocat\/Hello-World\/commit\/6dcb09b5b57875f334f61aebed695e2e4193db5e\) Fix typo in README — octocat$/m);
    assert.ok(r.html.includes('<li><a href="https://github.com/octocat/Hello-World/commit/e5bd3914e2e596debea16f433f57875b5b90bcd6"><code>e5bd391</code></a> Add contributing guide — octocat</li>'));
    assert.ok(r.html.endsWith('<a href="https://github.com/octocat/Hello-World/compare/9049f1265b7d...e5bd3914e2e5">Compare</a>'));
  });

  it('push of more than five commits, of a tag, and a deleted branch', () => {
    const base = fixture('github-push') as { commits: Record<string, unknown>[] };
    const many = render('github-push', { ...base, commits: Array.from({ length: 8 }, (_, i) => ({ ...base.commits[0], id: `${i}`.repeat(40), message: `commit ${i}` })) });
    assert.equal((many.html.match(/<li>/g) ?? []).length, 6);
    assert.match(many.plain, /^… and 3 more$/m);
    const tag = render('github-push', { ...base, ref: 'refs/tags/v1.0.0', commits: [] });
    assert.equal(firstLine(tag), '[push] octocat/Hello-World: octocat pushed tag v1.0.0');
    const deleted = render('github-push', { ...base, ref: 'refs/heads/old', deleted: true, commits: [] });
    assert.equal(firstLine(deleted), '[push] octocat/Hello-World: octocat deleted branch old');
    assert.equal(colourOf(deleted), ORANGE);
  });

  it('pull request opened (blue) and merged (green), with branches and link', () => {
    const opened = render('github-pull_request');
    assert.equal(
      opened.plain,
      '[PR opened] octocat/Hello-World#1347: Amazing new feature\nBy: octocat · new-topic → main\nPlease pull these awesome changes in!\nhttps://github.com/octocat/Hello-World/pull/1347',
    );
    assert.equal(colourOf(opened), BLUE);
    const merged = render('github-pull_request-merged');
    assert.equal(firstLine(merged), '[PR merged] octocat/Hello-World#1347: Amazing new feature');
    assert.equal(colourOf(merged), GREEN);
    const closed = render('github-pull_request', { ...(fixture('github-pull_request') as object), action: 'closed' });
    assert.equal(firstLine(closed), '[PR closed] octocat/Hello-World#1347: Amazing new feature');
    assert.equal(colourOf(closed), RED);
  });

  it('issue, release, ping, a failed workflow run', () => {
    assert.equal(
      render('github-issues').plain,
      "[issue opened] octocat/Hello-World#1348: Found a bug\nBy: octocat\nI'm having a problem with this.\nhttps://github.com/octocat/Hello-World/issues/1348",
    );
    const release = render('github-release');
    assert.equal(firstLine(release), '[release published] octocat/Hello-World: v1.0.0');
    assert.equal(colourOf(release), GREEN);
    assert.ok(release.html.includes('<a href="https://github.com/octocat/Hello-World/releases/tag/v1.0.0">'));
    assert.equal(render('github-ping').plain, '[ping] octocat/Hello-World: webhook 109948940 is set up\nDesign for failure.\nEvents: push, pull_request, issues, release');
    const run = render('github-workflow_run');
    assert.equal(run.plain, '[CI failure] octocat/Hello-World: CI #412 on main\nAdd contributing guide · By: octocat\nhttps://github.com/octocat/Hello-World/actions/runs/9462018735');
    assert.equal(colourOf(run), RED);
  });

  it('an event it has no wording for: a generic line with repository, action and sender, not null', () => {
    const r = github({
      body: { action: 'created', repository: { full_name: 'octocat/Hello-World', html_url: 'https://github.com/octocat/Hello-World' }, sender: { login: 'hubot' } },
      headers: { 'x-github-event': 'star' },
    });
    assert.equal(r?.plain, '[star created] octocat/Hello-World\nBy: hubot\nhttps://github.com/octocat/Hello-World');
  });

  it('the form content type (payload=<json>) and a delivery without the header', () => {
    const body = fixture('github-push');
    const form = github({ body: { payload: JSON.stringify(body) }, headers: { 'x-github-event': 'push' } });
    assert.equal(form?.plain, render('github-push').plain);
    assert.equal(github({ body, headers: {} })?.plain, render('github-push').plain);
    assert.equal(firstLine(github({ body: fixture('github-ping'), headers: {} }) ?? { plain: '', html: '' }), '[ping] octocat/Hello-World: webhook 109948940 is set up');
  });
});

describe('gitlab', () => {
  it('push: total commits, each commit linked, "and N more" for the ones not included, compare link', () => {
    const r = render('gitlab-push');
    assert.equal(firstLine(r), '[push] mike/diaspora: John Smith pushed 4 commits to main');
    assert.match(
      r.plain,
      /^• b6568db \(https:\/\/gitlab\.example\.com\/mike\/diaspora\/-\/commit\/b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327\) Update Catalan translation to e38cb41\. — Jordi Mallach$/m,
    );
    assert.match(r.plain, /^… and 2 more$/m);
    assert.ok(r.html.includes('<a href="https://gitlab.example.com/mike/diaspora/-/compare/95790bf891e76fee5e1747ab589903a6a1f80f22...da1560886d4f094c3e6c9ef40349f7d38b5d27d7">Compare</a>'));
  });

  it('merge request opened, issue closed, failed pipeline with its failed jobs', () => {
    const mr = render('gitlab-merge_request');
    assert.equal(
      mr.plain,
      '[MR opened] mike/diaspora!1: MS-Viewport\nBy: Administrator · ms-viewport → main\nAdds a viewport meta tag for mobile browsers.\nhttps://gitlab.example.com/mike/diaspora/-/merge_requests/1',
    );
    const merged = render('gitlab-merge_request', {
      ...(fixture('gitlab-merge_request') as { object_attributes: object }),
      object_attributes: { ...(fixture('gitlab-merge_request') as { object_attributes: object }).object_attributes, action: 'merge', state: 'merged' },
    });
    assert.equal(firstLine(merged), '[MR merged] mike/diaspora!1: MS-Viewport');
    assert.equal(colourOf(merged), GREEN);
    const issue = render('gitlab-issue');
    assert.equal(firstLine(issue), '[issue closed] mike/diaspora#23: New API: create/update/delete file');
    assert.equal(colourOf(issue), GREEN);
    const pipeline = render('gitlab-pipeline');
    assert.equal(
      pipeline.plain,
      '[pipeline failed] mike/diaspora: #31 on main\ntest · By: Administrator · Duration: 3m 5s\nFailed jobs:\n• test: test-image\nhttps://gitlab.example.com/mike/diaspora/-/pipelines/31',
    );
    assert.equal(colourOf(pipeline), RED);
  });

  it('the event from object_kind without the header; an unknown event as a generic line', () => {
    assert.equal(gitlab({ body: fixture('gitlab-push'), headers: {} })?.plain, render('gitlab-push').plain);
    const r = gitlab({
      body: {
        object_kind: 'wiki_page',
        user: { name: 'Ann' },
        project: { path_with_namespace: 'mike/diaspora', web_url: 'https://gitlab.example.com/mike/diaspora' },
        object_attributes: { action: 'create' },
      },
      headers: { 'x-gitlab-event': 'Wiki Page Hook' },
    });
    assert.equal(r?.plain, '[wiki_page create] mike/diaspora\nBy: Ann\nhttps://gitlab.example.com/mike/diaspora');
  });
});

describe('escaping and links', () => {
  const SCRIPT = '<script>alert("x")</script>';
  /** For each format, a payload carrying the script in the field it shows most prominently. */
  const HOSTILE: [FormatName, unknown, Record<string, string>?][] = [
    ['grafana', { ...(fixture('grafana-firing') as object), groupLabels: { alertname: SCRIPT } }],
    ['alertmanager', { ...(fixture('alertmanager-firing') as object), alerts: [{ status: 'firing', labels: { alertname: SCRIPT }, annotations: { summary: SCRIPT } }] }],
    ['proxmox', { title: SCRIPT, message: SCRIPT, severity: 'error' }],
    ['sonarr', { eventType: 'Grab', series: { title: SCRIPT }, episodes: [{ seasonNumber: 1, episodeNumber: 1, title: SCRIPT }] }],
    ['radarr', { eventType: 'Download', movie: { title: SCRIPT, year: 2024 } }],
    ['readarr', { eventType: 'Grab', author: { name: SCRIPT }, books: [{ title: SCRIPT }] }],
    ['lidarr', { eventType: 'Health', level: 'error', message: SCRIPT, type: SCRIPT }],
    ['uptime-kuma', { heartbeat: { status: 0, msg: SCRIPT }, monitor: { id: 1, name: SCRIPT }, msg: SCRIPT }],
    ['seerr', { notification_type: 'MEDIA_PENDING', subject: SCRIPT, message: SCRIPT, extra: [{ name: SCRIPT, value: SCRIPT }] }],
    ['owncast', { type: 'CHAT', eventData: { user: { displayName: SCRIPT }, rawBody: SCRIPT } }],
    ['apprise', { version: '1.0', title: SCRIPT, message: SCRIPT, type: 'info' }],
    [
      'github',
      { action: 'opened', pull_request: { title: SCRIPT, number: 1, html_url: 'https://github.com/a/b/pull/1', user: { login: SCRIPT } }, repository: { full_name: SCRIPT } },
      { 'x-github-event': 'pull_request' },
    ],
    ['gitlab', { object_kind: 'issue', user: { name: SCRIPT }, project: { path_with_namespace: SCRIPT }, object_attributes: { iid: 1, title: SCRIPT, action: 'open' } }],
  ];

  it('escapes every payload value in the HTML; the text keeps it as typed', () => {
    assert.deepEqual(HOSTILE.map(([name]) => name).sort(), [...FORMAT_NAMES].sort());
    for (const [name, body, headers = {}] of HOSTILE) {
      const r = RAW[name]({ body, headers });
      assert.ok(r, name);
      assert.doesNotMatch(r.html, /<script/i, name);
      assert.ok(r.html.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;'), name);
      assert.ok(r.plain.includes(SCRIPT), name);
    }
  });

  it('links only http(s) URLs: javascript:, data: and relative URLs stay unlinked, quotes cannot break out of href', () => {
    for (const url of ['javascript:alert(1)', 'JAVASCRIPT:alert(1)', 'data:text/html,<b>x</b>', '/relative', 'ftp://example.com/x', ' javascript:alert(1)']) {
      const r = grafana({ body: { ...(fixture('grafana-firing') as object), externalURL: url }, headers: {} });
      assert.ok(r);
      assert.ok(!r.html.includes('Open Grafana'), url);
      const pr = github({ body: { action: 'opened', pull_request: { title: 't', number: 1, html_url: url } }, headers: { 'x-github-event': 'pull_request' } });
      assert.doesNotMatch(pr?.html ?? '', /href="(?!https?:)/i, url);
    }
    const r = seerr({ body: { notification_type: 'MEDIA_AVAILABLE', subject: 's', image: 'https://x.example/"><script>alert(1)</script>' }, headers: {} });
    assert.ok(r);
    assert.doesNotMatch(r.html, /<script/);
    assert.match(r.html, /<a href="https:\/\/x\.example\/%22%3E%3Cscript%3Ealert\(1\)%3C\/script%3E">Poster<\/a>/);
  });
});

describe('payloads of another kind', () => {
  const NOT_A_PAYLOAD: unknown[] = [{}, 'hello', '', '{"broken": ', 'null', null, undefined, 42, true, [], [{}], { text: 'hi' }];

  it('every format answers null for an empty object, text, numbers, arrays and null', () => {
    for (const name of FORMAT_NAMES) {
      for (const body of NOT_A_PAYLOAD) assert.equal(RAW[name]({ body, headers: {} }), null, `${name} with ${JSON.stringify(body)}`);
    }
  });

  it('reads only its own service: each fixture is refused by the formats whose payloads differ', () => {
    // Pairs whose payloads share no required field; grafana/alertmanager and the *arr apps share a scheme on purpose.
    const refusals: [FormatName, string][] = [
      ['grafana', 'sonarr-grab'],
      ['alertmanager', 'uptime-kuma-down'],
      ['uptime-kuma', 'grafana-firing'],
      ['seerr', 'apprise'],
      ['owncast', 'seerr-media-pending'],
      ['sonarr', 'owncast-chat'],
      ['gitlab', 'github-push'],
      ['github', 'gitlab-issue'],
    ];
    for (const [name, other] of refusals) assert.equal(RAW[name]({ body: fixture(other), headers: {} }), null, `${name} read ${other}`);
  });

  it('never throws, whatever type each field has (every top-level field of every fixture replaced in turn)', () => {
    const odd: unknown[] = [null, 0, -1, 1e300, Number.NaN, '', 'x', true, [], [null, 1, 'x', {}], {}, { a: { b: [] } }];
    for (const name of fixtureNames()) {
      const format = RAW[formatOf(name)];
      const body = fixture(name) as Record<string, unknown>;
      for (const key of Object.keys(body)) {
        for (const value of odd) {
          const result = format({ body: { ...body, [key]: value }, headers: headersOf(name) });
          if (result !== null) {
            assert.equal(typeof result.plain, 'string');
            assert.equal(typeof result.html, 'string');
          }
        }
      }
      // And nested one level down: each field of each object field.
      for (const [key, inner] of Object.entries(body)) {
        if (typeof inner !== 'object' || inner === null || Array.isArray(inner)) continue;
        for (const innerKey of Object.keys(inner)) {
          for (const value of odd) format({ body: { ...body, [key]: { ...inner, [innerKey]: value } }, headers: headersOf(name) });
        }
      }
    }
  });

  it('FORMATS turns a throw into null (the generic rendering then takes over)', () => {
    const hostile = new Proxy(
      {},
      {
        get() {
          throw new Error('boom');
        },
        ownKeys() {
          throw new Error('boom');
        },
      },
    );
    for (const name of FORMAT_NAMES) assert.equal(FORMATS[name]({ body: hostile, headers: {} }), null, name);
  });
});
