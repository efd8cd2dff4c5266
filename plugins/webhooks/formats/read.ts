/**
 * Narrowing helpers for payloads of unknown shape. Every format reads its
 * body only through these, so a field of the wrong type reads as absent
 * instead of throwing or printing "[object Object]".
 */
import type { FormatInput } from './types.ts';

export type Obj = Record<string, unknown>;

export function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The object at `value`, or undefined. */
export function obj(value: unknown): Obj | undefined {
  return isObj(value) ? value : undefined;
}

/** The array at `value`, or an empty one. */
export function arr(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** The objects of the array at `value` (other entries skipped). */
export function objs(value: unknown): Obj[] {
  return arr(value).filter(isObj);
}

/**
 * A non-blank string (trimmed), a finite number as text, or undefined.
 * Blank counts as absent because templating services (Overseerr, Proxmox)
 * fill unknown variables with ''.
 */
export function str(value: unknown): string | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : undefined;
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}

/** A finite number, also from numeric text (templates quote everything). */
export function num(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && value.trim() !== '') {
    const parsed = Number(value);
    return Number.isFinite(parsed) ? parsed : undefined;
  }
  return undefined;
}

export function bool(value: unknown): boolean {
  return value === true || value === 'true';
}

/** The string values of an object (labels, annotations), in key order. */
export function strings(value: unknown): [string, string][] {
  const source = obj(value);
  if (!source) return [];
  const out: [string, string][] = [];
  for (const [key, v] of Object.entries(source)) {
    const s = str(v);
    if (s !== undefined) out.push([key, s]);
  }
  return out;
}

export function header(input: FormatInput, name: string): string | undefined {
  const headers = obj(input.headers);
  return headers ? str(headers[name]) : undefined;
}

/**
 * The body as a JSON object. Also accepts JSON text (a service that sent the
 * wrong content type) and the documented form variants that wrap the JSON in
 * one field: GitHub's `payload=` and Uptime Kuma's `data=`.
 */
export function jsonObject(body: unknown, formField?: string): Obj | undefined {
  if (typeof body === 'string') return parseObject(body);
  const object = obj(body);
  if (object && formField !== undefined && typeof object[formField] === 'string') {
    const keys = Object.keys(object);
    if (keys.length === 1) return parseObject(object[formField]);
  }
  return object;
}

function parseObject(text: string): Obj | undefined {
  const trimmed = text.trim();
  if (!trimmed.startsWith('{')) return undefined;
  try {
    return obj(JSON.parse(trimmed));
  } catch {
    return undefined;
  }
}

/**
 * A point in time for people, "2024-06-10 08:13:20 UTC", from Unix seconds or
 * milliseconds (numbers or numeric text) or a date string; other text as is.
 */
export function time(value: unknown): string | undefined {
  const n = num(value);
  const text = str(value);
  if (n === undefined && text === undefined) return undefined;
  const date = n !== undefined ? new Date(n > 1e12 ? n : n * 1000) : new Date(text ?? '');
  if (!Number.isFinite(date.getTime())) return text;
  return `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}
