/**
 * A webhook request's payload as a transform or a format sees it: JSON as
 * parsed, a form as an object of strings, XML as an object (fast-xml-parser),
 * other text as a string, and for GET (when the hook allows it) the query.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { WebRequest } from 'trellis/sdk';

/** A payload the request's sender got wrong; answered with `status` and the message. */
export class PayloadError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@_', parseTagValue: false });

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new PayloadError(400, `the body is not valid JSON (${(err as Error).message}); send JSON with Content-Type: application/json`);
  }
}

function parseXml(text: string): unknown {
  const valid = XMLValidator.validate(text);
  if (valid !== true) throw new PayloadError(400, `the body is not valid XML (${valid.err.msg} at line ${valid.err.line})`);
  return xml.parse(text) as unknown;
}

/** The payload of a POST/PUT (or GET's query); throws {@link PayloadError} for what cannot be read. */
export function readPayload(request: WebRequest): unknown {
  if (request.method === 'GET') return { ...request.query };
  const type = (request.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  const text = request.text();
  if (text.trim() === '') throw new PayloadError(400, 'the request has no body; send the payload as JSON, a form, text or XML');
  if (type === 'application/json' || type.endsWith('+json')) return parseJson(text);
  if (type === 'application/x-www-form-urlencoded') return Object.fromEntries(new URLSearchParams(text));
  if (type === 'application/xml' || type === 'text/xml' || type.endsWith('+xml')) return parseXml(text);
  if (type.startsWith('text/')) return text;
  // No type at all (curl -d without -H, some scripts): JSON when it parses, else the text.
  if (type === '') {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }
  throw new PayloadError(415, `unsupported Content-Type ${type}; send application/json, application/x-www-form-urlencoded, text/* or XML`);
}
