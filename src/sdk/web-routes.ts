/**
 * The route tables of plugin web endpoints, matched with find-my-way
 * (fastify's router): the public listener's (each running instance's routes
 * under /_matrix/maubot/plugin/<instance id>/ and the top-level prefixes
 * plugins claim, /webhook/) and the management listener's (each instance's
 * admin routes under /_matrix/maubot/v1/instance/<id>/plugin/, behind the
 * API's token). Routes live as long as their instance: {@link InstanceWeb.dispose} removes them.
 * The daemon and the test kit (`trellis/sdk/testing`) share it; not part of
 * the `trellis/sdk` surface plugins import.
 */
import Router from 'find-my-way';
import type { PluginLogger } from './index.ts';
import type { HttpMethod, PluginWeb, WebHandler, WebRequest, WebResponse } from './web.ts';
import { errorMessage } from '../shared/error-message.ts';

/** maubot's mount point for plugin web apps, kept so maubot-style URLs work. */
const PLUGIN_PATH = '/_matrix/maubot/plugin';
/** Where the management API serves an instance's admin routes (below its `/instance/<id>`). */
const ADMIN_PATH = '/_matrix/maubot/v1/instance';
const HTTP_METHODS: readonly HttpMethod[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
const PREFIX = /^\/[A-Za-z0-9._~-]+\/$/;

export interface RouteTarget {
  instanceId: string;
  handler: WebHandler;
  log: PluginLogger;
}

export interface RouteMatch {
  target: RouteTarget;
  /** The path below the instance's base or the claimed prefix. */
  path: string;
  params: Record<string, string>;
}

export type HandlerScope = <T>(fn: () => T) => T;

/** Why a route could not be added: shown as the instance's start error. */
export class WebRouteError extends Error {}

export class WebRoutes {
  readonly #router = Router({ maxParamLength: 2048 });
  readonly #prefixes = new Map<string, string>();
  readonly #publicBase: string | null;
  /** The management listener's table of admin routes. */
  readonly admin: WebRoutes | null;
  readonly #mount: string;

  /**
   * @param publicBase the listener's public base URL (`public.base_url`), null without a public listener.
   * The table of the management listener's admin routes comes with it.
   */
  constructor(publicBase: string | null, kind: 'public' | 'admin' = 'public') {
    this.#publicBase = publicBase?.replace(/\/+$/, '') ?? null;
    this.#mount = kind === 'public' ? PLUGIN_PATH : ADMIN_PATH;
    this.admin = kind === 'public' ? new WebRoutes(null, 'admin') : null;
  }

  /**
   * The routes one instance may add; call dispose() when it stops. `scope` runs each request's
   * handler (the daemon: attributed to the instance, so a stray throw in what it starts is blamed on it).
   */
  forInstance(instanceId: string, log: PluginLogger, scope: HandlerScope = (fn) => fn()): InstanceWeb {
    return new InstanceWeb(this, instanceId, log, scope);
  }

  /** @internal the path an instance's routes are served below. */
  baseOf(instanceId: string): string {
    const base = `${this.#mount}/${encodeURIComponent(instanceId)}`;
    return this.admin === null ? `${base}/plugin` : base;
  }

  publicUrl(path: string): string | null {
    return this.#publicBase === null ? null : `${this.#publicBase}${path.startsWith('/') ? path : `/${path}`}`;
  }

  match(method: string, pathname: string): RouteMatch | null {
    if (!(HTTP_METHODS as readonly string[]).includes(method)) return null;
    const found = this.#router.find(method as HttpMethod, pathname);
    if (!found) return null;
    const { target, base } = found.store as { target: RouteTarget; base: string };
    const params = Object.fromEntries(Object.entries(found.params).filter((e): e is [string, string] => e[1] !== undefined));
    return { target, path: pathname.slice(base.length) || '/', params };
  }

  /** The answer to a request no route matched: 405 with the methods served at that path, else 404. */
  unmatched(method: string, pathname: string): { status: 404 | 405; allow: string | null; error: string } {
    const allowed = HTTP_METHODS.filter((m) => this.#router.find(m, pathname) !== null);
    if (allowed.length === 0) return { status: 404, allow: null, error: 'not found' };
    return { status: 405, allow: allowed.join(', '), error: `${method} is not allowed here; use ${allowed.join(', ')}` };
  }

  /** @internal used by InstanceWeb */
  add(methods: readonly HttpMethod[], path: string, base: string, target: RouteTarget): void {
    for (const method of methods) {
      if (this.#router.hasRoute(method, path)) throw new WebRouteError(`${method} ${path} is already served`);
    }
    this.#router.on([...methods], path, () => undefined, { target, base });
  }

  /** @internal used by InstanceWeb */
  remove(methods: readonly HttpMethod[], path: string): void {
    this.#router.off([...methods], path);
  }

  /** @internal used by InstanceWeb */
  claim(prefix: string, instanceId: string): void {
    if (!PREFIX.test(prefix) || prefix.startsWith('/_matrix/')) {
      throw new WebRouteError(`cannot claim ${JSON.stringify(prefix)}: a prefix is one path segment between slashes, e.g. "/webhook/", and not under /_matrix/`);
    }
    const holder = this.#prefixes.get(prefix);
    if (holder !== undefined) throw new WebRouteError(`the public prefix ${prefix} is held by instance ${holder}; stop that instance or use one instance for it`);
    this.#prefixes.set(prefix, instanceId);
  }

  /** @internal used by InstanceWeb */
  release(prefix: string): void {
    this.#prefixes.delete(prefix);
  }
}

/** {@link PluginWeb} for one instance; remembers its routes so stopping the instance removes them. */
export class InstanceWeb implements PluginWeb {
  readonly #routes: WebRoutes;
  readonly #instanceId: string;
  readonly #log: PluginLogger;
  readonly #scope: HandlerScope;
  readonly #base: string;
  readonly #added: Array<{ table: WebRoutes; methods: readonly HttpMethod[]; path: string }> = [];
  readonly #claimed: string[] = [];
  #disposed = false;

  constructor(routes: WebRoutes, instanceId: string, log: PluginLogger, scope: HandlerScope) {
    this.#routes = routes;
    this.#instanceId = instanceId;
    this.#log = log;
    this.#scope = scope;
    this.#base = routes.baseOf(instanceId);
  }

  get baseUrl(): string | null {
    return this.#routes.publicUrl(this.#base);
  }

  publicUrl(path: string): string | null {
    return this.#routes.publicUrl(path);
  }

  route(method: HttpMethod | readonly HttpMethod[], path: string, handler: WebHandler): void {
    this.#addRoute(this.#routes, this.#base, method, path, handler);
  }

  adminRoute(method: HttpMethod | readonly HttpMethod[], path: string, handler: WebHandler): void {
    const admin = this.#routes.admin;
    if (admin === null) throw new WebRouteError('admin routes are added through the public table');
    this.#addRoute(admin, admin.baseOf(this.#instanceId), method, path, handler);
  }

  #addRoute(table: WebRoutes, base: string, method: HttpMethod | readonly HttpMethod[], path: string, handler: WebHandler): void {
    this.#assertLive();
    const methods = typeof method === 'string' ? [method] : [...method];
    const unknown = methods.filter((m) => !HTTP_METHODS.includes(m));
    if (methods.length === 0 || unknown.length > 0) throw new WebRouteError(`route ${path}: unknown method ${unknown.join(', ') || '(none)'}; use ${HTTP_METHODS.join(', ')}`);
    if (!path.startsWith('/')) throw new WebRouteError(`route ${JSON.stringify(path)}: a path starts with "/"`);
    const full = `${base}${path}`;
    table.add(methods, full, base, this.#target(handler));
    this.#added.push({ table, methods, path: full });
  }

  claimPrefix(prefix: string, handler: WebHandler): void {
    this.#assertLive();
    this.#routes.claim(prefix, this.#instanceId);
    const path = `${prefix}*`;
    try {
      this.#routes.add(HTTP_METHODS, path, prefix.slice(0, -1), this.#target(handler));
    } catch (err) {
      this.#routes.release(prefix);
      throw err;
    }
    this.#claimed.push(prefix);
    this.#added.push({ table: this.#routes, methods: HTTP_METHODS, path });
  }

  /** Removes every route and claim of this instance; later calls to route/claimPrefix throw. */
  dispose(): void {
    this.#disposed = true;
    for (const { table, methods, path } of this.#added.splice(0)) table.remove(methods, path);
    for (const prefix of this.#claimed.splice(0)) this.#routes.release(prefix);
  }

  #target(handler: WebHandler): RouteTarget {
    const scope = this.#scope;
    return { instanceId: this.#instanceId, log: this.#log, handler: (request) => scope(() => handler(request)) };
  }

  #assertLive(): void {
    if (this.#disposed) throw new WebRouteError(`instance ${this.#instanceId} has stopped; its routes are gone`);
  }
}

/** A request as the plugin sees it, relative to the matched route. */
export function webRequest(method: HttpMethod, match: RouteMatch, url: URL, headers: Record<string, string | string[] | undefined>, body: Uint8Array): WebRequest {
  const text = () => Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  return {
    method,
    path: match.path,
    params: match.params,
    query: Object.fromEntries(url.searchParams),
    headers: Object.fromEntries(Object.entries(headers).flatMap(([k, v]) => (v === undefined ? [] : [[k.toLowerCase(), Array.isArray(v) ? v.join(', ') : v]]))),
    body,
    text,
    json: () => JSON.parse(text()) as unknown,
  };
}

export type WebOutcome = { ok: true; response: WebResponse } | { ok: false; status: number; error: string };

/** A handler that has not answered by then gets 504; the request is not retried. */
const HANDLER_TIMEOUT_MS = 30_000;

/** Runs the plugin's handler, bounded in time; what it throws stays with this request (logged with the instance, answered 500). */
export async function invokeRoute(match: RouteMatch, request: WebRequest): Promise<WebOutcome> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<WebOutcome>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, status: 504, error: `the plugin did not answer within ${HANDLER_TIMEOUT_MS / 1000} s` }), HANDLER_TIMEOUT_MS);
  });
  try {
    const outcome = await Promise.race([handle(match, request), timeout]);
    if (!outcome.ok && outcome.status === 504) match.target.log.warn(`web endpoint ${request.method} ${request.path}: ${outcome.error}`);
    return outcome;
  } finally {
    clearTimeout(timer);
  }
}

async function handle(match: RouteMatch, request: WebRequest): Promise<WebOutcome> {
  let response: WebResponse;
  try {
    response = await match.target.handler(request);
  } catch (err) {
    // The plugin read the body as JSON and it was not: the sender's mistake.
    if (err instanceof SyntaxError) return { ok: false, status: 400, error: `the request body is not valid JSON: ${err.message}` };
    match.target.log.error(`web endpoint ${request.method} ${request.path} failed: ${errorMessage(err)}`, { err });
    return { ok: false, status: 500, error: 'the plugin failed to handle this request; see the daemon log' };
  }
  const status = response?.status ?? 200;
  if (!Number.isInteger(status) || status < 200 || status > 599) {
    match.target.log.error(`web endpoint ${request.method} ${request.path} answered with status ${String(status)}; use 200–599`);
    return { ok: false, status: 500, error: 'the plugin gave an invalid answer; see the daemon log' };
  }
  return { ok: true, response: { ...response, status } };
}
