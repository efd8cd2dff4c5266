/**
 * GitHub repository/organisation webhooks, the event named by the
 * X-GitHub-Event header (guessed from the body when a proxy dropped it).
 * Both content types GitHub offers are read: application/json and the form
 * with the JSON in `payload`.
 */
import { commitList, isTagRef, plural, refName } from './git.ts';
import { type Severity, clip, field, italic, joined, lines, link, rendered, titleLine } from './html.ts';
import { type Obj, arr, bool, header, jsonObject, num, obj, objs, str } from './read.ts';
import type { Format, Rendered } from './types.ts';

export const github: Format = (input) => {
  const body = jsonObject(input.body, 'payload');
  if (!body) return null;
  const event = header(input, 'x-github-event') ?? guessEvent(body);
  if (event === undefined) return null;

  const repo = str(obj(body.repository)?.full_name) ?? str(obj(body.organization)?.login) ?? 'GitHub';
  const sender = str(obj(body.sender)?.login);
  switch (event) {
    case 'push':
      return push(body, repo, sender);
    case 'pull_request':
      return pullRequest(body, repo);
    case 'issues':
      return issue(body, repo);
    case 'issue_comment':
      return comment(body, repo);
    case 'release':
      return release(body, repo);
    case 'ping':
      return ping(body, repo);
    case 'workflow_run':
      return workflowRun(body, repo);
    default: {
      const action = str(body.action);
      return rendered(lines(titleLine('info', action ? `${event} ${action}` : event, repo), field('By', sender), link(obj(body.repository)?.html_url)));
    }
  }
};

/** The event a body looks like, for deliveries that lost their header. */
function guessEvent(body: Obj): string | undefined {
  if (str(body.zen) !== undefined) return 'ping';
  if (obj(body.workflow_run)) return 'workflow_run';
  if (obj(body.pull_request) && str(body.action)) return 'pull_request';
  if (obj(body.issue) && obj(body.comment)) return 'issue_comment';
  if (obj(body.issue)) return 'issues';
  if (obj(body.release)) return 'release';
  if (Array.isArray(body.commits) && str(body.ref)) return 'push';
  return undefined;
}

function push(body: Obj, repo: string, sender: string | undefined): Rendered {
  const ref = str(body.ref);
  const name = refName(ref);
  const kind = isTagRef(ref) ? 'tag' : 'branch';
  const who = str(obj(body.pusher)?.name) ?? sender ?? 'Someone';
  const commits = objs(body.commits);
  if (bool(body.deleted)) return rendered(lines(titleLine('warning', 'push', `${repo}: ${who} deleted ${kind} ${name}`)));

  const what = kind === 'tag' ? `pushed tag ${name}` : commits.length === 0 && bool(body.created) ? `created branch ${name}` : `pushed ${plural(commits.length, 'commit')} to ${name}`;
  return rendered(
    lines(
      titleLine('info', 'push', `${repo}: ${who} ${what}${bool(body.forced) ? ' (forced)' : ''}`),
      commitList(commits, (c) => str(obj(c.author)?.username) ?? str(obj(c.author)?.name)),
      link(body.compare, 'Compare'),
    ),
  );
}

/** opened → info, merged → ok, closed unmerged → critical. */
function pullRequest(body: Obj, repo: string): Rendered {
  const pr = obj(body.pull_request) ?? {};
  const action = str(body.action) ?? 'updated';
  const merged = action === 'closed' && bool(pr.merged);
  const label = merged ? 'merged' : action;
  const severity: Severity = merged ? 'ok' : action === 'closed' ? 'critical' : 'info';
  const text = str(pr.body);
  return rendered(
    lines(
      titleLine(severity, `PR ${label}`, `${repo}#${num(pr.number) ?? num(body.number) ?? '?'}: ${str(pr.title) ?? ''}`),
      joined([field('By', str(obj(pr.user)?.login)), branches(str(obj(pr.head)?.ref), str(obj(pr.base)?.ref))], ' · '),
      action === 'opened' && text ? italic(clip(text, 300)) : undefined,
      link(pr.html_url),
    ),
  );
}

function branches(head: string | undefined, base: string | undefined): string | undefined {
  return head && base ? `${head} → ${base}` : undefined;
}

/** closed as completed → ok, reopened → warning, the rest informational. */
function issue(body: Obj, repo: string): Rendered {
  const it = obj(body.issue) ?? {};
  const action = str(body.action) ?? 'updated';
  const severity: Severity = action === 'closed' ? (str(it.state_reason) === 'not_planned' ? 'info' : 'ok') : action === 'reopened' ? 'warning' : 'info';
  const text = str(it.body);
  return rendered(
    lines(
      titleLine(severity, `issue ${action}`, `${repo}#${num(it.number) ?? '?'}: ${str(it.title) ?? ''}`),
      field('By', str(obj(body.sender)?.login) ?? str(obj(it.user)?.login)),
      action === 'opened' && text ? italic(clip(text, 300)) : undefined,
      link(it.html_url),
    ),
  );
}

function comment(body: Obj, repo: string): Rendered {
  const it = obj(body.issue) ?? {};
  const note = obj(body.comment) ?? {};
  const text = str(note.body);
  // GitHub sends PR conversation comments as issue_comment too; the issue then has a pull_request key.
  const on = obj(it.pull_request) ? 'PR' : 'issue';
  return rendered(
    lines(
      titleLine('info', `comment ${str(body.action) ?? 'created'}`, `${repo}#${num(it.number) ?? '?'}: ${str(it.title) ?? ''}`),
      field(`${str(obj(note.user)?.login) ?? 'Someone'} on ${on}`, text ? clip(text, 500) : ''),
      link(note.html_url),
    ),
  );
}

function release(body: Obj, repo: string): Rendered {
  const rel = obj(body.release) ?? {};
  const action = str(body.action) ?? 'published';
  const tag = str(rel.tag_name) ?? '';
  const name = str(rel.name);
  const severity: Severity = action === 'deleted' ? 'warning' : action === 'published' || action === 'released' ? 'ok' : 'info';
  return rendered(
    lines(
      titleLine(severity, `release ${action}`, `${repo}: ${tag}${name && name !== tag ? ` – ${name}` : ''}${bool(rel.prerelease) ? ' (pre-release)' : ''}`),
      field('By', str(obj(rel.author)?.login)),
      link(rel.html_url),
    ),
  );
}

function ping(body: Obj, repo: string): Rendered {
  const hook = obj(body.hook);
  const events = arr(hook?.events)
    .map(str)
    .filter((e) => e !== undefined);
  const id = str(body.hook_id);
  return rendered(lines(titleLine('info', 'ping', `${repo}: webhook ${id ? `${id} ` : ''}is set up`), italic(str(body.zen) ?? ''), field('Events', events.join(', '))));
}

/** A run's conclusion once completed, else its status (requested, in_progress). */
function workflowRun(body: Obj, repo: string): Rendered {
  const run = obj(body.workflow_run) ?? {};
  const outcome = str(run.conclusion) ?? str(run.status) ?? str(body.action) ?? 'updated';
  const severity: Severity =
    outcome === 'success' ? 'ok' : ['failure', 'timed_out', 'startup_failure'].includes(outcome) ? 'critical' : ['cancelled', 'action_required'].includes(outcome) ? 'warning' : 'info';
  const number = num(run.run_number);
  return rendered(
    lines(
      titleLine(severity, `CI ${outcome}`, `${repo}: ${str(run.name) ?? 'workflow'}${number !== undefined ? ` #${number}` : ''}${str(run.head_branch) ? ` on ${str(run.head_branch)}` : ''}`),
      joined([str(run.display_title), field('By', str(obj(run.actor)?.login))], ' · '),
      link(run.html_url),
    ),
  );
}
