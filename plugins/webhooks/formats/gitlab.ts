/**
 * GitLab project/group webhooks, the event named by the X-Gitlab-Event header
 * ("Push Hook", "Merge Request Hook", …) or, failing that, the body's
 * object_kind. Push, tag push, merge request, issue, comment, pipeline and
 * release get their own line; any other event a generic one.
 */
import { ZERO_SHA, commitList, plural, refName } from './git.ts';
import { type Severity, clip, field, firstLine, joined, lines, link, list, rendered, titleLine } from './html.ts';
import { type Obj, header, jsonObject, num, obj, objs, str } from './read.ts';
import type { Format, Rendered } from './types.ts';

/** Header names whose object_kind is not simply the snake_cased name. */
const KINDS: Record<string, string> = { 'Job Hook': 'build', 'Confidential Issue Hook': 'issue', 'Confidential Note Hook': 'note' };

export const gitlab: Format = (input) => {
  const body = jsonObject(input.body);
  if (!body) return null;
  const event = header(input, 'x-gitlab-event');
  const kind = event !== undefined ? kindOf(event) : str(body.object_kind);
  if (kind === undefined) return null;

  const project = obj(body.project) ?? {};
  const repo = str(project.path_with_namespace) ?? str(project.name) ?? str(obj(body.repository)?.name) ?? 'GitLab';
  const user = str(obj(body.user)?.name) ?? str(body.user_name) ?? str(obj(body.user)?.username) ?? str(body.user_username);
  switch (kind) {
    case 'push':
    case 'tag_push':
      return push(body, repo, user, kind === 'tag_push');
    case 'merge_request':
      return mergeRequest(body, repo, user);
    case 'issue':
      return issue(body, repo, user);
    case 'note':
      return note(body, repo, user);
    case 'pipeline':
      return pipeline(body, repo, user);
    case 'release': {
      const tag = str(body.tag) ?? '';
      const name = str(body.name);
      return rendered(lines(titleLine('ok', `release ${str(body.action) ?? 'create'}`, `${repo}: ${tag}${name && name !== tag ? ` – ${name}` : ''}`), link(body.url)));
    }
    default: {
      const action = str(obj(body.object_attributes)?.action) ?? str(body.action);
      return rendered(lines(titleLine('info', action ? `${kind} ${action}` : kind, repo), field('By', user), link(project.web_url)));
    }
  }
};

/** "Merge Request Hook" → merge_request, the body's object_kind for the same event. */
function kindOf(event: string): string {
  return (
    KINDS[event] ??
    event
      .replace(/ Hook$/, '')
      .toLowerCase()
      .replace(/ /g, '_')
  );
}

function push(body: Obj, repo: string, user: string | undefined, tag: boolean): Rendered {
  const name = refName(str(body.ref));
  const who = user ?? 'Someone';
  const before = str(body.before) ?? '';
  const after = str(body.after) ?? '';
  if (ZERO_SHA.test(after)) return rendered(lines(titleLine('warning', 'push', `${repo}: ${who} deleted ${tag ? 'tag' : 'branch'} ${name}`)));

  const commits = objs(body.commits);
  const total = num(body.total_commits_count) ?? commits.length;
  const what = tag ? `pushed tag ${name}` : `pushed ${plural(total, 'commit')} to ${name}`;
  const web = str(obj(body.project)?.web_url);
  const compare = web && before && !ZERO_SHA.test(before) && !tag ? `${web}/-/compare/${before}...${after}` : undefined;
  return rendered(lines(titleLine('info', 'push', `${repo}: ${who} ${what}`), tag ? undefined : commitList(commits, (c) => str(obj(c.author)?.name), total), link(compare, 'Compare')));
}

/** object_attributes.action (open, close, reopen, update, merge, approved, …) → what the title says. */
const ACTIONS: Record<string, string> = { open: 'opened', close: 'closed', reopen: 'reopened', update: 'updated', merge: 'merged' };

function mergeRequest(body: Obj, repo: string, user: string | undefined): Rendered {
  const mr = obj(body.object_attributes) ?? {};
  const raw = str(mr.action) ?? str(mr.state) ?? 'update';
  const action = ACTIONS[raw] ?? raw;
  const severity: Severity = action === 'merged' || action === 'approved' ? 'ok' : action === 'closed' ? 'critical' : 'info';
  const source = str(mr.source_branch);
  const target = str(mr.target_branch);
  const description = str(mr.description);
  return rendered(
    lines(
      titleLine(severity, `MR ${action}`, `${repo}!${num(mr.iid) ?? '?'}: ${str(mr.title) ?? ''}`),
      joined([field('By', user), source && target ? `${source} → ${target}` : undefined], ' · '),
      action === 'opened' && description ? clip(description, 300) : undefined,
      link(mr.url),
    ),
  );
}

function issue(body: Obj, repo: string, user: string | undefined): Rendered {
  const it = obj(body.object_attributes) ?? {};
  const raw = str(it.action) ?? str(it.state) ?? 'update';
  const action = ACTIONS[raw] ?? raw;
  const severity: Severity = action === 'closed' ? 'ok' : action === 'reopened' ? 'warning' : 'info';
  return rendered(lines(titleLine(severity, `issue ${action}`, `${repo}#${num(it.iid) ?? '?'}: ${str(it.title) ?? ''}`), field('By', user), link(it.url)));
}

function note(body: Obj, repo: string, user: string | undefined): Rendered {
  const it = obj(body.object_attributes) ?? {};
  const target = obj(body.merge_request) ?? obj(body.issue);
  const on = obj(body.merge_request) ? `!${num(target?.iid) ?? '?'}` : obj(body.issue) ? `#${num(target?.iid) ?? '?'}` : '';
  const text = str(it.note);
  return rendered(lines(titleLine('info', 'comment', `${repo}${on}${target ? `: ${str(target.title) ?? ''}` : ''}`), field(user ?? 'Someone', text ? clip(text, 500) : ''), link(it.url)));
}

/** success → ok, failed → critical, canceled/skipped → warning, the in-between states informational. */
function pipeline(body: Obj, repo: string, user: string | undefined): Rendered {
  const p = obj(body.object_attributes) ?? {};
  const status = str(p.status) ?? 'unknown';
  const severity: Severity = status === 'success' ? 'ok' : status === 'failed' ? 'critical' : status === 'canceled' || status === 'skipped' ? 'warning' : 'info';
  const id = num(p.id);
  const commit = obj(body.commit);
  const duration = num(p.duration);
  const failed = objs(body.builds)
    .filter((b) => str(b.status) === 'failed')
    .map((b) => [str(b.stage), str(b.name)].filter((s) => s !== undefined).join(': '));
  const web = str(obj(body.project)?.web_url);
  return rendered(
    lines(
      titleLine(severity, `pipeline ${status}`, `${repo}: #${id ?? '?'}${str(p.ref) ? ` on ${str(p.ref)}` : ''}`),
      joined([str(commit?.title) ?? firstLine(str(commit?.message) ?? ''), field('By', user), duration !== undefined ? field('Duration', minutes(duration)) : undefined], ' · '),
      failed.length > 0 ? 'Failed jobs:' : undefined,
      list(failed, 5),
      link(str(p.url) ?? (web && id !== undefined ? `${web}/-/pipelines/${id}` : undefined)),
    ),
  );
}

function minutes(seconds: number): string {
  const s = Math.round(seconds);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m ${s % 60}s`;
}
