// The kv REST API as the console uses it (docs/http-api.md): JSON in and out, errors as ApiError.
import { askToken, authorization } from "./credentials.js";

/** An answer other than 2xx: `status` 0 when the server could not be reached. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// JSON numbers are kept as written (a 20-digit integer, 1.0, 1e400), where the browser can:
// JSON.parse would round them to doubles, and saving an unrelated edit would change them.
const exactNumbers = typeof JSON.rawJSON === "function";

/** JSON.parse, keeping each number's source text when a double would not write it back. */
export function parseJson(text) {
  if (!exactNumbers) return JSON.parse(text);
  return JSON.parse(text, (_key, value, context) =>
    typeof value === "number" && context && context.source !== String(value)
      ? JSON.rawJSON(context.source)
      : value,
  );
}

export const pretty = (value) => JSON.stringify(value, null, 2);
export const compact = (value) => JSON.stringify(value);

const encoder = new TextEncoder();

/** Keys compare in UTF-8 byte order, as the server lists them. */
export function compareKeys(a, b) {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i += 1) {
    if (x[i] !== y[i]) return x[i] - y[i];
  }
  return x.length - y.length;
}

export const keyBytes = (key) => encoder.encode(key).length;

const entryPath = (key) => `/v1/kv/${encodeURIComponent(key)}`;

/** The body of an answer as JSON, or null. */
async function readDocument(response) {
  const text = await response.text();
  try {
    return text ? parseJson(text) : null;
  } catch {
    return null;
  }
}

async function call(method, path, { body, headers = {} } = {}) {
  let response;
  let document;
  // A 401 asks for a token and sends the call again with it, until one is taken or the
  // user cancels (the 401 is then the answer).
  for (;;) {
    const init = { method, headers: { Accept: "application/json", ...authorization(), ...headers } };
    if (body !== undefined) {
      init.body = body;
      init.headers["Content-Type"] = "application/json";
    }
    try {
      response = await fetch(path, init);
    } catch {
      throw new ApiError(0, "unreachable", "The kv server cannot be reached.");
    }
    document = await readDocument(response);
    if (response.status !== 401) break;
    const refusal = document && document.error ? document.error.message : "401";
    if (!(await askToken(refusal))) break;
  }
  if (!response.ok) {
    const error = document && document.error;
    throw new ApiError(
      response.status,
      error ? error.code : `http_${response.status}`,
      error ? error.message : `${response.status} ${response.statusText}`,
    );
  }
  return document;
}

/** One page of entries under `prefix`: {entries, next_cursor, revision}. */
export function listPage(prefix, limit, cursor) {
  const query = new URLSearchParams({ prefix, limit: String(limit) });
  if (cursor) query.set("cursor", cursor);
  return call("GET", `/v1/kv?${query}`);
}

export const getEntry = (key) => call("GET", entryPath(key));

const writeBody = (value, ttl) => compact(ttl === null ? { value } : { value, ttl });

/** Create only: 409 `already_exists` when the key is there. */
export const createEntry = (key, value, ttl) =>
  call("POST", entryPath(key), { body: writeBody(value, ttl) });

/** Replace the entry at `revision` (412 if it moved on); `revision` null: only if absent. */
export function replaceEntry(key, value, ttl, revision) {
  const condition = revision === null ? { "If-None-Match": "*" } : { "If-Match": `"${revision}"` };
  return call("PUT", entryPath(key), { body: writeBody(value, ttl), headers: condition });
}

/** Delete the entry only if it is still at `revision`. */
export const deleteEntry = (key, revision) =>
  call("DELETE", entryPath(key), { headers: { "If-Match": `"${revision}"` } });

/** The change stream of keys under `prefix`, starting at `fromRevision` (docs/watch.md). */
export function watchUrl(prefix, fromRevision) {
  const query = new URLSearchParams({ prefix, from_revision: String(fromRevision) });
  return `/v1/watch?${query}`;
}
