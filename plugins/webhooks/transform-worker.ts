/**
 * The worker side of webhook transforms (see transform.ts): loads QuickJS
 * (WebAssembly) once, then runs or compiles one transform per message, each
 * in a fresh QuickJS runtime with its own memory limit, stack limit and
 * interrupt deadline. Runs inside a worker thread so that the host can
 * terminate it when a script evades the interrupt (QuickJS polls it only every
 * few thousand operations, and one operation can be slow).
 *
 * The script semantics follow matrix-hookshot's WebhookTransformer
 * (src/generic/WebhookTransformer.ts): the script sees `data`, sets the global
 * `result`, and runs inside an arrow function so a top-level `return` works.
 */
import { parentPort } from 'node:worker_threads';
import { newQuickJSWASMModuleFromVariant, type QuickJSContext, type QuickJSHandle, type QuickJSWASMModule, Scope, shouldInterruptAfterDeadline } from 'quickjs-emscripten-core';
import type { TransformLimits, TransformResult, WorkerReply, WorkerRequest } from './transform.ts';

/**
 * Above ≈ 512 KiB, deep recursion exhausts V8's own stack before QuickJS's
 * check fires, and the RangeError unwinding through the WebAssembly leaves the
 * module unusable. At 256 KiB QuickJS throws a clean "stack overflow".
 */
const MAX_STACK_BYTES = 256 * 1024;
const FILENAME = 'transform.js';
/**
 * hookshot wraps the script as `(() => { … })()` so that a top-level `return`
 * works; the script starts on the wrapper's first line so line numbers in
 * errors are the script's own. The newline before the closing brace lets a
 * script end in a `//` comment.
 */
const PREFIX = '(() => { ';
const SUFFIX = '\n})()';
const MSGTYPES = ['m.notice', 'm.text', 'm.emote'];
const AT_END = ' at the end of the script';
const OUT_OF_MEMORY = 'out of memory';
/** Error messages go into a Matrix room: keep them to a readable size. */
const MAX_MESSAGE = 400;

/** A result the script produced but that hookshot's API does not accept. */
class InvalidResult extends Error {}

export function wrapScript(code: string): string {
  return PREFIX + code + SUFFIX;
}

function formatBytes(bytes: number): string {
  if (bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}

function clip(text: string): string {
  return text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE)}…` : text;
}

/**
 * " at line L, column C" for the innermost frame inside the script, from a
 * QuickJS stack ("    at f (transform.js:3:5)") or a SyntaxError's
 * "    at transform.js:3:5". Frames on the wrapper's closing line are not the
 * script's; a syntax error there means the script ended too early.
 */
function location(stack: unknown, code: string, syntax: boolean): string {
  if (typeof stack !== 'string') return '';
  const lines = code.split('\n').length;
  for (const match of stack.matchAll(/transform\.js:(\d+)(?::(\d+))?/g)) {
    const line = Number(match[1]);
    if (line > lines) {
      if (syntax) return AT_END;
      continue;
    }
    if (match[2] === undefined) return ` at line ${line}`;
    const column = line === 1 ? Number(match[2]) - PREFIX.length : Number(match[2]);
    return column >= 1 ? ` at line ${line}, column ${column}` : ` at line ${line}`;
  }
  return '';
}

/** A human-readable sentence for what the script threw (or what QuickJS threw at it). */
function describeThrown(ctx: QuickJSContext, handle: QuickJSHandle, code: string, limits: TransformLimits): string {
  let thrown: unknown;
  try {
    thrown = ctx.dump(handle);
  } catch {
    return 'the transform threw a value that cannot be read';
  }
  if (thrown !== null && typeof thrown === 'object' && typeof (thrown as { message?: unknown }).message === 'string') {
    const { name, message, stack } = thrown as { name?: unknown; message: string; stack?: unknown };
    const kind = typeof name === 'string' && name !== '' ? name : 'Error';
    if (kind === 'InternalError' && message === 'interrupted') return `interrupted: ran longer than ${limits.timeoutMs} ms`;
    if (kind === 'InternalError' && message === 'out of memory') return `${OUT_OF_MEMORY} (limit ${formatBytes(limits.memoryBytes)})`;
    const where = location(stack, code, kind === 'SyntaxError');
    // QuickJS reports it as an InternalError, or a SyntaxError inside JSON.parse.
    if (message === 'stack overflow') return `stack overflow (recursion too deep)${where}`;
    // QuickJS's message then names a token of the wrapper's closing `})()`, which the author never wrote.
    if (where === AT_END) return 'SyntaxError: the script ends too early (is a brace, bracket, parenthesis or string left open?)';
    return clip(`${kind}: ${message}`) + where;
  }
  // A script may throw null; so may QuickJS when it cannot even allocate the out-of-memory error.
  if (thrown === null) return `the transform threw null (or ran ${OUT_OF_MEMORY}, limit ${formatBytes(limits.memoryBytes)})`;
  const text = typeof thrown === 'string' ? thrown : JSON.stringify(thrown);
  return clip(`the transform threw: ${text === undefined ? String(thrown) : text}`);
}

/**
 * A fresh runtime and context with the limits applied; `body` must manage
 * every handle it creates in `scope`: a handle still alive when the runtime is
 * disposed makes QuickJS abort (and takes the whole module with it).
 */
function withSandbox<T>(qjs: QuickJSWASMModule, limits: TransformLimits, body: (ctx: QuickJSContext, scope: Scope) => T): T {
  const runtime = qjs.newRuntime();
  try {
    runtime.setMemoryLimit(limits.memoryBytes);
    runtime.setMaxStackSize(MAX_STACK_BYTES);
    runtime.setInterruptHandler(shouldInterruptAfterDeadline(Date.now() + limits.timeoutMs));
    const ctx = runtime.newContext();
    try {
      return Scope.withScope((scope) => body(ctx, scope));
    } finally {
      ctx.dispose();
    }
  } finally {
    runtime.dispose();
  }
}

/** Compiles without running: the error (with its line) or null. */
export function checkScript(qjs: QuickJSWASMModule, code: string, limits: TransformLimits): string | null {
  return withSandbox(qjs, limits, (ctx, scope) => {
    const compiled = scope.manage(ctx.evalCode(wrapScript(code), FILENAME, { type: 'global', compileOnly: true }));
    return compiled.error ? describeThrown(ctx, compiled.error, code, limits) : null;
  });
}

/** Runs the script with `data` parsed from `json` (undefined: no payload) and interprets what it left in `result`. */
export function runScript(qjs: QuickJSWASMModule, code: string, json: string | undefined, limits: TransformLimits): { error: string } | { result: TransformResult } {
  return withSandbox(qjs, limits, (ctx, scope) => {
    // Taken before the script runs, so a script that replaces JSON cannot change how its result is read.
    const jsonObject = scope.manage(ctx.getProp(ctx.global, 'JSON'));
    const parse = scope.manage(ctx.getProp(jsonObject, 'parse'));
    const stringify = scope.manage(ctx.getProp(jsonObject, 'stringify'));

    if (json !== undefined) {
      const parsed = scope.manage(ctx.callFunction(parse, jsonObject, scope.manage(ctx.newString(json))));
      if (parsed.error) {
        const why = describeThrown(ctx, parsed.error, code, limits);
        return { error: `the payload could not be given to the transform: ${why}` };
      }
      ctx.setProp(ctx.global, 'data', parsed.value);
    } else {
      ctx.setProp(ctx.global, 'data', ctx.undefined);
    }
    ctx.setProp(ctx.global, 'HookshotApiVersion', scope.manage(ctx.newString('v2')));

    const evaluated = scope.manage(ctx.evalCode(wrapScript(code), FILENAME, { type: 'global' }));
    if (evaluated.error) return { error: describeThrown(ctx, evaluated.error, code, limits) };

    // hookshot reads only the global `result` (and ignores a returned value); a
    // returned value is used here when `result` was not set, so `return {…}`
    // works too (hookshot issue #639).
    let chosen = scope.manage(ctx.getProp(ctx.global, 'result'));
    if (ctx.typeof(chosen) === 'undefined') chosen = evaluated.value;

    const type = ctx.typeof(chosen);
    if (type === 'string') return interpret(ctx.getString(chosen));
    if (type !== 'object') return interpret(undefined);
    const text = scope.manage(ctx.callFunction(stringify, jsonObject, chosen));
    if (text.error) return { error: `the result could not be read: ${describeThrown(ctx, text.error, code, limits)}` };
    if (ctx.typeof(text.value) !== 'string') return { error: 'the result could not be read: JSON.stringify(result) gave no JSON' };
    return interpret(JSON.parse(ctx.getString(text.value)));
  });
}

function interpret(value: unknown): { error: string } | { result: TransformResult } {
  try {
    return { result: toTransformResult(value) };
  } catch (err) {
    if (err instanceof InvalidResult) return { error: err.message };
    throw err;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return clip(JSON.stringify(value));
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

function invalid(field: string, expected: string, value: unknown): InvalidResult {
  return new InvalidResult(`invalid result: ${field} must be ${expected} (got ${describeValue(value)})`);
}

/**
 * hookshot's rules (WebhookTransformer.execute), made stricter where hookshot
 * lets a bad value through to the homeserver: msgtype is one of the three
 * text types, user_ids are strings, statusCode is an HTTP status.
 */
export function toTransformResult(value: unknown): TransformResult {
  // Legacy v1 API: a string becomes "Received webhook: …"; anything that is not an object, "No content".
  if (typeof value === 'string') return { plain: `Received webhook: ${value}`, empty: false };
  if (typeof value !== 'object') return { plain: 'No content', empty: false };
  // hookshot crashes on null (reading null.version): a failure there, a clear one here.
  if (value === null) throw new InvalidResult("invalid result: result is null (set it to a string, or to an object with version: 'v2')");
  if (!isObject(value)) throw new InvalidResult("invalid result: result is an array (set it to a string, or to an object with version: 'v2')");
  if (value.version !== 'v2') throw new InvalidResult(`invalid result: an object result needs version: 'v2' (got version ${describeValue(value.version)}); or set result to a string`);

  let webhookResponse: TransformResult['webhookResponse'];
  // hookshot checks webhookResponse only when it is truthy, and before `empty`.
  if (value.webhookResponse) {
    const response = value.webhookResponse;
    if (!isObject(response)) throw invalid('webhookResponse', 'an object with a string body', response);
    if (typeof response.body !== 'string') throw invalid('webhookResponse.body', 'a string', response.body);
    const { statusCode, contentType } = response;
    if (statusCode !== undefined && !(typeof statusCode === 'number' && Number.isInteger(statusCode) && statusCode >= 200 && statusCode <= 599)) {
      throw invalid('webhookResponse.statusCode', 'an integer from 200 to 599', statusCode);
    }
    if (contentType !== undefined && typeof contentType !== 'string') throw invalid('webhookResponse.contentType', 'a string', contentType);
    webhookResponse = { body: response.body };
    if (contentType !== undefined) webhookResponse.contentType = contentType;
    if (statusCode !== undefined) webhookResponse.statusCode = statusCode;
  }

  if (value.empty) return webhookResponse ? { plain: '', empty: true, webhookResponse } : { plain: '', empty: true };

  const { plain, html, msgtype } = value;
  if (typeof plain !== 'string') throw invalid('plain', 'a string (or set empty: true)', plain);
  if (html !== undefined && typeof html !== 'string') throw invalid('html', 'a string', html);
  if (msgtype !== undefined && !(typeof msgtype === 'string' && MSGTYPES.includes(msgtype))) throw invalid('msgtype', `one of ${MSGTYPES.join(', ')}`, msgtype);

  const result: TransformResult = { plain, empty: false };
  if (html !== undefined) result.html = html;
  if (msgtype !== undefined) result.msgtype = msgtype;

  // Truthy only, as in hookshot; only room and user_ids are kept.
  if (value.mentions) {
    const mentions = value.mentions;
    if (!isObject(mentions)) throw invalid('mentions', 'an object', mentions);
    const { room, user_ids: userIds } = mentions;
    if (room !== undefined && typeof room !== 'boolean') throw invalid('mentions.room', 'true or false', room);
    if (userIds !== undefined && !(Array.isArray(userIds) && userIds.every((id) => typeof id === 'string'))) throw invalid('mentions.user_ids', 'an array of strings', userIds);
    result.mentions = {};
    if (room !== undefined) result.mentions.room = room;
    if (userIds !== undefined) result.mentions.user_ids = userIds as string[];
  }

  if (value.hints) {
    const hints = value.hints;
    if (!isObject(hints)) throw invalid('hints', 'an object', hints);
    if (hints.showUrlPreviews !== undefined && typeof hints.showUrlPreviews !== 'boolean') throw invalid('hints.showUrlPreviews', 'true or false', hints.showUrlPreviews);
    result.hints = hints.showUrlPreviews === undefined ? {} : { showUrlPreviews: hints.showUrlPreviews };
  }

  if (webhookResponse) result.webhookResponse = webhookResponse;
  return result;
}

function handle(qjs: QuickJSWASMModule, request: WorkerRequest): WorkerReply {
  try {
    if (request.op === 'check') return { id: request.id, error: checkScript(qjs, request.code, request.limits) };
    const outcome = runScript(qjs, request.code, request.json, request.limits);
    if (!('error' in outcome)) return { id: request.id, error: null, result: outcome.result };
    // WebAssembly memory only grows: after a run that filled the heap, a new worker gives the memory back.
    return { id: request.id, error: outcome.error, ...(outcome.error.includes(OUT_OF_MEMORY) ? { retire: true } : {}) };
  } catch (err) {
    // An exception from the host side of QuickJS (a WebAssembly abort, a V8
    // RangeError through the module, a handle misuse) may leave the module in
    // a broken state: answer, and ask to be replaced.
    const message = err instanceof Error ? err.message : String(err);
    return { id: request.id, error: `the transform sandbox failed: ${clip(message)}`, retire: true };
  }
}

if (parentPort) {
  const port = parentPort;
  // The package's types describe its CommonJS build; the dynamic import is the form both its types and quickjs-emscripten-core's loader accept.
  const qjs = await newQuickJSWASMModuleFromVariant(import('@jitl/quickjs-wasmfile-release-sync'));
  port.on('message', (request: WorkerRequest) => port.postMessage(handle(qjs, request)));
  port.postMessage({ ready: true } satisfies WorkerReply);
}
