// The entry panel: open, create, edit (If-Match), delete (confirmed), conflicts and remote changes.
import { createEntry, deleteEntry, getEntry, pretty, replaceEntry } from "./api.js";
import { checkKey, checkTtl, checkValue, clearFieldErrors, keyError } from "./fields.js";
import { $, announce, clearError, describe, displayKey, focusKey, formatTtl, showError } from "./view.js";

// The entry in the panel: `revision` is what a save or delete is conditioned on (null: the key
// must not exist); `server` what the server held at the last conflict.
let open = null;
// What the list does when the panel changes: {prefix(), saved(entry), deleted(key), refresh()}.
let list = null;

/** The key open in the panel (null: none, or a new key not created yet). */
export const openKey = () => (open && !open.isNew ? open.key : null);

function show(entry, { isNew = false } = {}) {
  open = { key: entry.key, revision: isNew ? null : entry.revision, isNew, dirty: false, server: null };
  $("detail").hidden = false;
  $("detail-heading").textContent = isNew ? "New key" : displayKey(entry.key);
  $("key-field").hidden = !isNew;
  $("meta").hidden = isNew;
  $("delete").hidden = isNew;
  $("save").textContent = isNew ? "Create" : "Save";
  $("key").value = isNew ? list.prefix() : entry.key;
  $("value").value = isNew ? "" : pretty(entry.value);
  $("ttl").value = entry.ttl ?? "";
  $("meta-revision").textContent = isNew ? "—" : String(entry.revision);
  $("meta-ttl").textContent = formatTtl(entry.ttl);
  $("remote").hidden = true;
  $("conflict").hidden = true;
  clearFieldErrors();
  list.refresh();
}

export async function openEntry(key) {
  clearError();
  try {
    show(await getEntry(key));
    $("detail").scrollIntoView({ block: "nearest" });
    $("value").focus();
  } catch (error) {
    showError(`Could not open “${displayKey(key)}”: ${describe(error)}`);
  }
}

function newKey() {
  clearError();
  show({ key: "", value: null }, { isNew: true });
  $("detail").scrollIntoView({ block: "nearest" });
  $("key").focus();
}

function close() {
  const key = open?.key;
  open = null;
  $("detail").hidden = true;
  list.refresh();
  if (!focusKey(key)) $("new-key").focus();
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
    show(entry);
    list.saved(entry);
    announce(`${verb} “${displayKey(entry.key)}”, revision ${entry.revision}.`);
    $("value").focus();
  } catch (error) {
    if (error.status === 412) await showConflict("save");
    else if (error.status === 409) keyError("This key exists already: open it from the list to edit it.");
    else showError(`Not saved: ${describe(error)}`);
  }
}

/** A conditional save or delete was refused (412): show what the server holds now, keep the edit. */
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
  const saving = action === "save";
  $("conflict").querySelector("h3").textContent = saving
    ? `Not saved: someone else ${server ? "changed" : "deleted"} this key`
    : "Not deleted: someone else changed this key";
  const done = saving ? "Your edit was not saved" : "The key was not deleted";
  const kept = saving ? " Your text is still in the editor." : "";
  $("conflict-text").textContent = server
    ? `${done}: you opened revision ${open.revision}, the server now has revision ${server.revision}.${kept}`
    : `${done}: the key no longer exists.${kept}`;
  $("conflict-server").hidden = !server;
  $("conflict-value").textContent = server ? pretty(server.value) : "";
  $("conflict-keep").textContent = server
    ? `Save mine over revision ${server.revision}`
    : "Create it again with my value";
  $("conflict-keep").hidden = !saving;
  $("conflict-discard").textContent = !server
    ? "Discard my edit and close"
    : saving
      ? "Discard my edit, load the server's"
      : "Load the server's version";
  $("remote").hidden = true;
  $("conflict").hidden = false;
  announce(`Conflict: ${$("conflict-text").textContent}`);
  $("conflict-discard").focus();
}

function discardForServer() {
  if (!open) return;
  if (open.server) show(open.server);
  else close();
}

function keepMine() {
  if (!open) return;
  // The user chose to replace what they saw: condition the write on that revision, so a
  // further change in between is again a conflict rather than silently overwritten.
  open.revision = open.server ? open.server.revision : null;
  $("conflict").hidden = true;
  save();
}

/** A change from the watch: flag it if it is the open entry's, newer than what is shown. */
export function noticeChange(kind, change) {
  if (!open || open.isNew || open.key !== change.key || change.revision <= open.revision) return;
  $("remote-text").textContent =
    kind === "put"
      ? `Someone else changed this key: the server has revision ${change.revision} (you have ${open.revision}).`
      : `This key ${change.expired ? "expired" : "was deleted"} on the server (revision ${change.revision}).`;
  $("remote-load").hidden = kind !== "put";
  $("remote").hidden = false;
}

async function loadLatest() {
  if (!open) return;
  try {
    show(await getEntry(open.key));
    $("value").focus();
  } catch (error) {
    showError(`Could not reload: ${describe(error)}`);
  }
}

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
    list.deleted(key);
    close();
    announce(`Deleted “${displayKey(key)}”.`);
  } catch (error) {
    if (error.status === 412) await showConflict("delete");
    else if (error.status === 404) showError(`“${displayKey(key)}” was already deleted.`);
    else showError(`Not deleted: ${describe(error)}`);
  }
}

function onKeydown(event) {
  if (!open) return;
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && $("editor").contains(event.target)) {
    event.preventDefault();
    save();
  } else if (event.key === "Escape" && !$("confirm").open) {
    // Unsaved text is not thrown away by one stray key: a second Escape closes.
    if (open.dirty && !open.escapeArmed) {
      open.escapeArmed = true;
      announce("Unsaved changes: press Escape again to discard them.");
      return;
    }
    close();
  }
}

/** Wire the panel's controls; `hooks` keeps the list in step with what the panel does. */
export function startEditor(hooks) {
  list = hooks;
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
  $("close").addEventListener("click", close);
  $("delete").addEventListener("click", askDelete);
  $("confirm-cancel").addEventListener("click", () => $("confirm").close());
  $("confirm-delete").addEventListener("click", confirmDelete);
  $("confirm").addEventListener("close", () => open && $("delete").focus());
  $("conflict-discard").addEventListener("click", discardForServer);
  $("conflict-keep").addEventListener("click", keepMine);
  $("remote-load").addEventListener("click", loadLatest);
  document.addEventListener("keydown", onKeydown);
}
