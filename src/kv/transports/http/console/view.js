// What the console shows: messages to the user, and entries as text and table rows.
import { ApiError, compact } from "./api.js";

export const $ = (id) => document.getElementById(id);

let pendingNotes = [];
let noteTimer = null;

/** Say `text` in the polite live region; bursts are joined so a reader is not flooded. */
export function announce(text) {
  pendingNotes.push(text);
  if (noteTimer !== null) return;
  noteTimer = setTimeout(() => {
    const notes = pendingNotes;
    pendingNotes = [];
    noteTimer = null;
    $("announcer").textContent =
      notes.length > 3 ? `${notes.length} changes, the last: ${notes.at(-1)}` : notes.join(" ");
  }, 400);
}

/** Show `text` in the alert bar (role="alert": read out at once). */
export function showError(text) {
  $("alert-text").textContent = text;
  $("alert").hidden = false;
}

export function clearError() {
  $("alert").hidden = true;
  $("alert-text").textContent = "";
}

export const describe = (error) =>
  error instanceof ApiError ? `${error.message} (${error.status || "no answer"})` : String(error);

/** A key as text, control characters written as escapes so each key stays on one line. */
export const displayKey = (key) =>
  key.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);

/** Seconds left as a person reads them; `undefined` (no ttl) is "never". */
export function formatTtl(seconds) {
  if (seconds === undefined || seconds === null) return "never";
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.ceil(seconds / 60)} min`;
  if (seconds < 172800) return `${Math.ceil(seconds / 3600)} h`;
  return `${Math.ceil(seconds / 86400)} d`;
}

function preview(value) {
  const text = compact(value);
  return text.length > 80 ? `${text.slice(0, 79)}…` : text;
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function span(text, className) {
  const element = document.createElement("span");
  element.textContent = text;
  element.className = className;
  return element;
}

/** The table row of `entry`: its key as a button that calls `onOpen`. */
export function keyRow(entry, { current, changed, onOpen }) {
  const tr = document.createElement("tr");
  tr.dataset.key = entry.key;
  if (current) tr.setAttribute("aria-current", "true");
  if (changed) tr.classList.add("changed");
  const button = document.createElement("button");
  button.type = "button";
  button.className = "key-link";
  button.dataset.key = entry.key;
  button.textContent = displayKey(entry.key);
  button.addEventListener("click", onOpen);
  const keyCell = cell("", "col-key");
  // At phone width the value, revision and expiry stand under the key instead of in columns.
  const expiry = entry.ttl === undefined ? "no expiry" : `expires in ${formatTtl(entry.ttl)}`;
  keyCell.append(
    button,
    span(preview(entry.value), "preview-inline"),
    span(`rev ${entry.revision} · ${expiry}`, "facts-inline"),
  );
  const ttl = cell(formatTtl(entry.ttl), "num");
  if (entry.ttl !== undefined) ttl.title = `${entry.ttl} seconds when read`;
  tr.append(keyCell, cell(preview(entry.value), "col-value"), cell(String(entry.revision), "num"), ttl);
  return tr;
}

/** Move the focus to the key button of `key` in the list, if it is there; says whether. */
export function focusKey(key) {
  const button = [...document.querySelectorAll("button.key-link")].find((b) => b.dataset.key === key);
  button?.focus();
  return button !== undefined;
}
