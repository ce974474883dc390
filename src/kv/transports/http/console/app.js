// The kv console: browse keys by prefix, open, create, edit and delete entries, follow changes.
import {
  ApiError,
  compact,
  compareKeys,
  createEntry,
  deleteEntry,
  getEntry,
  keyBytes,
  listPage,
  parseJson,
  pretty,
  replaceEntry,
  watchUrl,
} from "./api.js";

const $ = (id) => document.getElementById(id);
const MAX_KEY_BYTES = 1024;
const MAX_TTL = 31_536_000;

const list = {
  prefix: "",
  limit: 25,
  cursors: [null], // the cursor that opens each page seen so far; page 0 needs none
  page: 0,
  entries: [],
  nextCursor: null,
  revision: 0, // the store revision the page was read at
};

// The entry in the editor: `revision` is what an edit is conditioned on (null: create).
let open = null;

// ---- messages ------------------------------------------------------------------------------

let pendingNotes = [];
let noteTimer = null;

/** Say `text` in the polite live region; bursts are joined so a reader is not flooded. */
function announce(text) {
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

function showError(text) {
  $("alert-text").textContent = text;
  $("alert").hidden = false;
}

function clearError() {
  $("alert").hidden = true;
  $("alert-text").textContent = "";
}

const describe = (error) =>
  error instanceof ApiError ? `${error.message} (${error.status || "no answer"})` : String(error);

// ---- display -------------------------------------------------------------------------------

/** A key as text, control characters written as escapes so each key stays on one line. */
const displayKey = (key) =>
  key.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);

function formatTtl(seconds) {
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

function renderRows(changedKey = null) {
  const focusedKey = document.activeElement?.dataset?.key;
  const rows = $("rows");
  rows.replaceChildren(
    ...list.entries.map((entry) => {
      const tr = document.createElement("tr");
      tr.dataset.key = entry.key;
      if (open && open.key === entry.key) tr.setAttribute("aria-current", "true");
      if (entry.key === changedKey) tr.classList.add("changed");
      const keyCell = document.createElement("td");
      keyCell.className = "col-key";
      const button = document.createElement("button");
      button.type = "button";
      button.className = "key-link";
      button.dataset.key = entry.key;
      button.textContent = displayKey(entry.key);
      button.addEventListener("click", () => openEntry(entry.key));
      // At phone width the value, revision and expiry stand under the key instead of in columns.
      const small = document.createElement("span");
      small.className = "preview-inline";
      small.textContent = preview(entry.value);
      const facts = document.createElement("span");
      facts.className = "facts-inline";
      facts.textContent = `rev ${entry.revision} · ${entry.ttl === undefined ? "no expiry" : `expires in ${formatTtl(entry.ttl)}`}`;
      keyCell.append(button, small, facts);
      const ttl = cell(formatTtl(entry.ttl), "num");
      if (entry.ttl !== undefined) ttl.title = `${entry.ttl} seconds when read`;
      tr.append(keyCell, cell(preview(entry.value), "col-value"), cell(String(entry.revision), "num"), ttl);
      return tr;
    }),
  );
  if (focusedKey !== undefined) {
    [...rows.querySelectorAll("button.key-link")].find((b) => b.dataset.key === focusedKey)?.focus();
  }
  const count = list.entries.length;
  const where = list.prefix ? ` under “${displayKey(list.prefix)}”` : "";
  $("list-status").textContent = count
    ? `${count} key${count === 1 ? "" : "s"}${where} on this page.`
    : `No keys${where}.`;
  $("page-label").textContent = `Page ${list.page + 1}`;
  $("prev").disabled = list.page === 0;
  $("next").disabled = list.nextCursor === null;
}

// ---- browsing ------------------------------------------------------------------------------

async function loadPage(page) {
  try {
    const result = await listPage(list.prefix, list.limit, list.cursors[page]);
    list.page = page;
    list.entries = result.entries;
    list.nextCursor = result.next_cursor;
    list.revision = result.revision;
    list.cursors[page + 1] = result.next_cursor;
    list.cursors.length = page + 2;
    renderRows();
    return true;
  } catch (error) {
    showError(`Could not list keys: ${describe(error)}`);
    return false;
  }
}

async function browse() {
  list.prefix = $("prefix").value;
  list.limit = Number($("page-size").value);
  list.cursors = [null];
  if (await loadPage(0)) watch.follow(list.prefix, list.revision + 1);
}

// ---- live changes --------------------------------------------------------------------------

/** Whether a key not on the page belongs between its first and last rows. */
function belongsOnPage(key) {
  const { entries } = list;
  if (entries.length === 0) return list.page === 0 && list.nextCursor === null;
  const afterFirst = list.page === 0 || compareKeys(key, entries[0].key) > 0;
  const beforeLast = list.nextCursor === null || compareKeys(key, entries.at(-1).key) < 0;
  return afterFirst && beforeLast;
}

function applyChange(kind, change) {
  const index = list.entries.findIndex((entry) => entry.key === change.key);
  const known = index >= 0 ? list.entries[index] : null;
  // The page may already hold this change (it was read at or after its revision).
  if (known ? known.revision >= change.revision : change.revision <= list.revision) return;
  const name = `“${displayKey(change.key)}”`;
  if (kind === "put") {
    if (known) list.entries[index] = change;
    else if (belongsOnPage(change.key)) {
      list.entries.push(change);
      list.entries.sort((a, b) => compareKeys(a.key, b.key));
    }
    renderRows(change.key);
    announce(`${name} ${known ? "changed" : "written"}, revision ${change.revision}.`);
  } else {
    if (known) list.entries.splice(index, 1);
    renderRows();
    announce(`${name} ${change.expired ? "expired" : "deleted"}.`);
  }
  if (open && !open.isNew && open.key === change.key && change.revision > open.revision) {
    flagRemoteChange(kind, change);
  }
}

const watch = {
  source: null,
  retryTimer: null,
  retryDelay: 2000,

  /** Follow changes under `prefix` from `fromRevision`; the browser resumes by Last-Event-ID. */
  follow(prefix, fromRevision) {
    this.stop();
    const source = new EventSource(watchUrl(prefix, fromRevision));
    this.source = source;
    setLive("connecting", "Connecting…");
    source.addEventListener("open", () => {
      this.retryDelay = 2000;
      setLive("live", "Live");
    });
    for (const kind of ["put", "delete"]) {
      source.addEventListener(kind, (event) => applyChange(kind, parseJson(event.data)));
    }
    source.addEventListener("error", () => {
      if (source.readyState === EventSource.CONNECTING) {
        setLive("connecting", "Reconnecting…");
        return;
      }
      // Closed for good (the server refused the stream, e.g. 410 compacted): read the page
      // afresh and follow from there, later and later while it keeps failing.
      setLive("offline", "Live updates paused");
      this.source = null;
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        loadPage(list.page).then((ok) => ok && this.follow(list.prefix, list.revision + 1));
      }, this.retryDelay);
      this.retryDelay = Math.min(this.retryDelay * 2, 30000);
    });
  },

  stop() {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.source?.close();
    this.source = null;
  },
};

function setLive(state, text) {
  $("live").dataset.state = state;
  $("live-text").textContent = text;
}

// ---- the editor ----------------------------------------------------------------------------

function showEditor(entry, { isNew = false } = {}) {
  open = {
    key: entry.key,
    revision: isNew ? null : entry.revision,
    isNew,
    dirty: false,
    server: null,
    escapeArmed: false,
  };
  $("detail").hidden = false;
  $("detail-heading").textContent = isNew ? "New key" : displayKey(entry.key);
  $("key-field").hidden = !isNew;
  $("meta").hidden = isNew;
  $("delete").hidden = isNew;
  $("save").textContent = isNew ? "Create" : "Save";
  $("key").value = isNew ? list.prefix : entry.key;
  $("value").value = isNew ? "" : pretty(entry.value);
  $("ttl").value = entry.ttl ?? "";
  $("meta-revision").textContent = isNew ? "—" : String(entry.revision);
  $("meta-ttl").textContent = formatTtl(entry.ttl);
  for (const id of ["remote", "conflict", "value-error", "key-error", "ttl-error"]) $(id).hidden = true;
  for (const id of ["value", "key", "ttl"]) $(id).removeAttribute("aria-invalid");
  renderRows();
}

async function openEntry(key) {
  clearError();
  try {
    showEditor(await getEntry(key));
    $("detail").scrollIntoView({ block: "nearest" });
    $("value").focus();
  } catch (error) {
    showError(`Could not open “${displayKey(key)}”: ${describe(error)}`);
  }
}

function newKey() {
  clearError();
  showEditor({ key: "", value: null }, { isNew: true });
  $("detail").scrollIntoView({ block: "nearest" });
  $("key").focus();
}

function closeEditor() {
  const key = open?.key;
  open = null;
  $("detail").hidden = true;
  renderRows();
  const row = [...document.querySelectorAll("button.key-link")].find((b) => b.dataset.key === key);
  (row ?? $("new-key")).focus();
}

function fieldError(id, text) {
  const error = $(`${id}-error`);
  error.textContent = text ?? "";
  error.hidden = !text;
  if (text) $(id).setAttribute("aria-invalid", "true");
  else $(id).removeAttribute("aria-invalid");
  return !text;
}

function checkValue() {
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

function checkTtl() {
  const text = $("ttl").value.trim();
  if (!text) {
    fieldError("ttl", null);
    return { ttl: null };
  }
  const ttl = Number(text);
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TTL) {
    fieldError("ttl", `A whole number of seconds from 1 to ${MAX_TTL.toLocaleString("en")}.`);
    return null;
  }
  fieldError("ttl", null);
  return { ttl };
}

function checkKey() {
  const key = $("key").value;
  const problem = !key ? "Enter a key." : keyBytes(key) > MAX_KEY_BYTES ? "At most 1024 bytes." : null;
  fieldError("key", problem);
  return problem ? null : key;
}

async function save() {
  if (!open) return;
  clearError();
  const key = open.isNew ? checkKey() : open.key;
  const value = checkValue();
  const ttl = checkTtl();
  if (key === null || value === null || ttl === null) {
    $(key === null ? "key" : value === null ? "value" : "ttl").focus();
    return;
  }
  try {
    const entry = open.isNew
      ? await createEntry(key, value.value, ttl.ttl)
      : await replaceEntry(key, value.value, ttl.ttl, open.revision);
    const verb = open.isNew || entry.created ? "Created" : "Saved";
    showEditor(entry);
    upsertRow(entry);
    announce(`${verb} “${displayKey(entry.key)}”, revision ${entry.revision}.`);
    $("value").focus();
  } catch (error) {
    if (error.status === 412) await showConflict("save");
    else if (error.status === 409) fieldError("key", "This key exists already: open it from the list to edit it.");
    else showError(`Not saved: ${describe(error)}`);
  }
}

function upsertRow(entry) {
  const index = list.entries.findIndex((e) => e.key === entry.key);
  if (index >= 0) list.entries[index] = entry;
  else if (entry.key.startsWith(list.prefix) && belongsOnPage(entry.key)) {
    list.entries.push(entry);
    list.entries.sort((a, b) => compareKeys(a.key, b.key));
  }
  renderRows(entry.key);
}

/** A conditional write or delete was refused: show what the server holds now, keep the edit. */
async function showConflict(action) {
  let server = null;
  try {
    server = await getEntry(open.key);
  } catch (error) {
    if (error.status !== 404) {
      showError(`Someone else changed this key, and reading it failed: ${describe(error)}`);
      return;
    }
  }
  open.server = server;
  const done = action === "save" ? "Your edit was not saved" : "The key was not deleted";
  $("conflict").querySelector("h3").textContent =
    action === "delete"
      ? "Not deleted: someone else changed this key"
      : `Not saved: someone else ${server ? "changed" : "deleted"} this key`;
  const kept = action === "save" ? " Your text is still in the editor." : "";
  $("conflict-text").textContent = server
    ? `${done}: you opened revision ${open.revision}, the server now has revision ${server.revision}.${kept}`
    : `${done}: the key no longer exists.${kept}`;
  $("conflict-server").hidden = !server;
  $("conflict-value").textContent = server ? pretty(server.value) : "";
  $("conflict-keep").textContent = server
    ? `Save mine over revision ${server.revision}`
    : "Create it again with my value";
  $("conflict-keep").hidden = action === "delete";
  $("conflict-discard").textContent = !server
    ? "Discard my edit and close"
    : action === "save"
      ? "Discard my edit, load the server's"
      : "Load the server's version";
  $("remote").hidden = true;
  $("conflict").hidden = false;
  announce(`Conflict: ${$("conflict-text").textContent}`);
  $("conflict-discard").focus();
}

function flagRemoteChange(kind, change) {
  const expired = change.expired ? "expired" : "was deleted";
  $("remote-text").textContent =
    kind === "put"
      ? `Someone else changed this key: the server has revision ${change.revision} (you have ${open.revision}).`
      : `This key ${expired} on the server (revision ${change.revision}).`;
  $("remote-load").hidden = kind !== "put";
  $("remote").hidden = false;
}

function discardForServer() {
  if (!open) return;
  if (open.server) showEditor(open.server);
  else closeEditor();
}

function keepMine() {
  if (!open) return;
  // The user chose to replace what they saw: condition the write on that revision, so a
  // further change in between is again a conflict rather than silently overwritten.
  open.revision = open.server ? open.server.revision : null;
  $("conflict").hidden = true;
  save();
}

async function loadLatest() {
  if (!open) return;
  try {
    showEditor(await getEntry(open.key));
    $("value").focus();
  } catch (error) {
    showError(`Could not reload: ${describe(error)}`);
  }
}

// ---- deleting ------------------------------------------------------------------------------

function askDelete() {
  if (!open || open.isNew) return;
  $("confirm-text").textContent = `“${displayKey(open.key)}” (revision ${open.revision}) will be deleted.`;
  $("confirm").showModal();
  $("confirm-cancel").focus();
}

async function confirmDelete() {
  $("confirm").close();
  if (!open) return;
  clearError();
  const { key } = open;
  try {
    await deleteEntry(key, open.revision);
    list.entries = list.entries.filter((entry) => entry.key !== key);
    closeEditor();
    announce(`Deleted “${displayKey(key)}”.`);
  } catch (error) {
    if (error.status === 412) await showConflict("delete");
    else if (error.status === 404) showError(`“${displayKey(key)}” was already deleted.`);
    else showError(`Not deleted: ${describe(error)}`);
  }
}

// ---- wiring --------------------------------------------------------------------------------

function onKeydown(event) {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && open && $("editor").contains(event.target)) {
    event.preventDefault();
    save();
  } else if (event.key === "Escape" && open && !$("confirm").open) {
    // Unsaved text is not thrown away by one stray key: a second Escape closes.
    if (open.dirty && !open.escapeArmed) {
      open.escapeArmed = true;
      announce("Unsaved changes: press Escape again to discard them.");
      return;
    }
    closeEditor();
  }
}

function start() {
  $("prefix-form").addEventListener("submit", (event) => {
    event.preventDefault();
    clearError();
    browse();
  });
  $("prev").addEventListener("click", () => loadPage(list.page - 1));
  $("next").addEventListener("click", () => loadPage(list.page + 1));
  $("new-key").addEventListener("click", newKey);
  $("editor").addEventListener("submit", (event) => {
    event.preventDefault();
    save();
  });
  $("editor").addEventListener("input", (event) => {
    if (open) {
      open.dirty = true;
      open.escapeArmed = false;
    }
    if (event.target.id === "value" && $("value").getAttribute("aria-invalid")) checkValue();
  });
  $("value").addEventListener("blur", () => open && $("value").value.trim() && checkValue());
  $("close").addEventListener("click", closeEditor);
  $("delete").addEventListener("click", askDelete);
  $("confirm-cancel").addEventListener("click", () => $("confirm").close());
  $("confirm-delete").addEventListener("click", confirmDelete);
  $("confirm").addEventListener("close", () => open && $("delete").focus());
  $("conflict-discard").addEventListener("click", discardForServer);
  $("conflict-keep").addEventListener("click", keepMine);
  $("remote-load").addEventListener("click", loadLatest);
  $("alert-dismiss").addEventListener("click", clearError);
  document.addEventListener("keydown", onKeydown);
  browse();
}

start();
