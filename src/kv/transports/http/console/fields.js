// The editor's fields, checked in the browser before anything is sent.
import { keyBytes, parseJson } from "./api.js";
import { $ } from "./view.js";

const MAX_KEY_BYTES = 1024;
const MAX_TTL = 31_536_000;

/** Mark field `id` invalid with `text` under it (null: valid); the message is tied by id. */
function fieldError(id, text) {
  const error = $(`${id}-error`);
  error.textContent = text ?? "";
  error.hidden = !text;
  if (text) $(id).setAttribute("aria-invalid", "true");
  else $(id).removeAttribute("aria-invalid");
}

export function clearFieldErrors() {
  for (const id of ["value", "key", "ttl"]) fieldError(id, null);
}

/** Say `text` at the key field (for what only the server can tell, such as 409). */
export const keyError = (text) => fieldError("key", text);

/** The value typed, as {value}; null (and the field marked) when it is not JSON. */
export function checkValue() {
  const text = $("value").value;
  if (!text.trim()) {
    fieldError("value", 'Enter a JSON value, e.g. "text" or {}.');
    return null;
  }
  try {
    const value = parseJson(text);
    fieldError("value", null);
    return { value };
  } catch (error) {
    fieldError("value", `Not valid JSON: ${error.message}`);
    return null;
  }
}

/** The expiry typed, as {ttl} (ttl null: none); null (and the field marked) when invalid. */
export function checkTtl() {
  const text = $("ttl").value.trim();
  const ttl = text ? Number(text) : null;
  const valid = ttl === null || (Number.isInteger(ttl) && ttl >= 1 && ttl <= MAX_TTL);
  fieldError("ttl", valid ? null : `A whole number of seconds from 1 to ${MAX_TTL.toLocaleString("en")}.`);
  return valid ? { ttl } : null;
}

/** The key typed; null (and the field marked) when empty or over 1024 bytes of UTF-8. */
export function checkKey() {
  const key = $("key").value;
  const problem = !key ? "Enter a key." : keyBytes(key) > MAX_KEY_BYTES ? "At most 1024 bytes." : null;
  fieldError("key", problem);
  return problem ? null : key;
}
