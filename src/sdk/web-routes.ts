/**
 * The public listener's route table: each running instance's routes under
 * /_matrix/maubot/plugin/<instance id>/ and the top-level prefixes plugins
 * claim (/webhook/), matched with find-my-way (fastify's router). Routes
 * live as long as their instance: {@link InstanceWeb.dispose} removes them.
 * The daemon and the test kit (`trellis/sdk/testing`) share it; not part of
 * the `trellis/sdk` surface plugins import.
 */
import Router from 'find-my-way';
import type { PluginLogger } from './index.ts';
import type { HttpMethod, PluginWeb, WebHandler, WebRequest, WebResponse } from './web.ts';
import { errorMessage } from '../shared/error-message.ts';

/** maubot's mount point for plugin web apps, kept so maubot-style URLs work. */
const PLUGIN_PATH = '/_matrix/maubot/plugin';
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

  /** @param publicBase the listener's public base URL (`public.base_url`), null without a public listener. */
  constructor(publicBase: string | null) {
    this.#publicBase = publicBase?.replace(/\/+$/, '') ?? null;
  }

  /**
   * The routes one instance may add; call dispose() when it stops. `scope` runs each request's
   * handler (the daemon: attributed to the instance, so a stray throw in what it starts is blamed on it).
   */
  forInstance(instanceId: string, log: PluginLogger, scope: HandlerScope = (fn) => fn()): InstanceWeb {
    return new InstanceWeb(this, instanceId, log, scope);
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
  readonly #added: Array<{ methods: readonly HttpMethod[]; path: string }> = [];
  readonly #claimed: string[] = [];
  #disposed = false;

  constructor(routes: WebRoutes, instanceId: string, log: PluginLogger, scope: HandlerScope) {
    this.#routes = routes;
    this.#instanceId = instanceId;
    this.#log = log;
    this.#scope = scope;
    this.#base = `${PLUGIN_PATH}/${encodeURIComponent(instanceId)}`;
  }

  get baseUrl(): string | null {
    return this.#routes.publicUrl(this.#base);
  }

  publicUrl(path: string): string | null {
    return this.#routes.publicUrl(path);
  }

  route(method: HttpMethod | readonly HttpMethod[], path: string, handler: WebHandler): void {
    this.#assertLive();
    const methods = typeof method === 'string' ? [method] : [...method];
    const unknown = methods.filter((m) => !HTTP_METHODS.includes(m));
    if (methods.length === 0 || unknown.length > 0) throw new WebRouteError(`route ${path}: unknown method ${unknown.join(', ') || '(none)'}; use ${HTTP_METHODS.join(', ')}`);
    if (!path.startsWith('/')) throw new WebRouteError(`route ${JSON.stringify(path)}: a path starts with "/"`);
    const full = `${this.#base}${path}`;
    this.#routes.add(methods, full, this.#base, this.#target(handler));
    this.#added.push({ methods, path: full });
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
    this.#added.push({ methods: HTTP_METHODS, path });
  }

  /** Removes every route and claim of this instance; later calls to route/claimPrefix throw. */
  dispose(): void {
    this.#disposed = true;
    for (const { methods, path } of this.#added.splice(0)) this.#routes.remove(methods, path);
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

/** Runs the plugin's handler; what it throws stays with this request (logged with the instance, answered 500). */
export async function invokeRoute(match: RouteMatch, request: WebRequest): Promise<WebOutcome> {
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
