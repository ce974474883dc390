// The kv console: the key list of a prefix, page by page, kept live by the change feed.
import { compareKeys, listPage } from "./api.js";
import { openEntry, noticeChange, openKey, startEditor } from "./editor.js";
import { ChangeFeed } from "./feed.js";
import { $, announce, clearError, describe, displayKey, focusKey, keyRow, showError } from "./view.js";

const list = {
  prefix: "",
  limit: 25,
  cursors: [null], // the cursor that opens each page seen so far; page 0 needs none
  page: 0,
  entries: [],
  nextCursor: null,
  revision: 0, // the store revision the page was read at
};

function render(changedKey = null) {
  const focused = document.activeElement?.closest("#rows") ? document.activeElement.dataset.key : undefined;
  const current = openKey();
  $("rows").replaceChildren(
    ...list.entries.map((entry) =>
      keyRow(entry, {
        current: entry.key === current,
        changed: entry.key === changedKey,
        onOpen: () => openEntry(entry.key),
      }),
    ),
  );
  if (focused !== undefined) focusKey(focused);
  const count = list.entries.length;
  const where = list.prefix ? ` under “${displayKey(list.prefix)}”` : "";
  $("list-status").textContent = count
    ? `${count} key${count === 1 ? "" : "s"}${where} on this page.`
    : `No keys${where}.`;
  $("page-label").textContent = `Page ${list.page + 1}`;
  $("prev").disabled = list.page === 0;
  $("next").disabled = list.nextCursor === null;
}

/** Read page `page` of the current prefix; says whether it could. */
async function loadPage(page) {
  try {
    const result = await listPage(list.prefix, list.limit, list.cursors[page]);
    Object.assign(list, {
      page,
      entries: result.entries,
      nextCursor: result.next_cursor,
      revision: result.revision,
    });
    list.cursors[page + 1] = result.next_cursor;
    list.cursors.length = page + 2;
    render();
    return true;
  } catch (error) {
    showError(`Could not list keys: ${describe(error)}`);
    return false;
  }
}

// ---- live changes --------------------------------------------------------------------------

/** Whether a key not on the page belongs between its first and last rows. */
function belongsOnPage(key) {
  const { entries } = list;
  if (!key.startsWith(list.prefix)) return false;
  if (entries.length === 0) return list.page === 0 && list.nextCursor === null;
  const afterFirst = list.page === 0 || compareKeys(key, entries[0].key) > 0;
  const beforeLast = list.nextCursor === null || compareKeys(key, entries.at(-1).key) < 0;
  return afterFirst && beforeLast;
}

/** Put `entry` on the page (replacing its row, or in key order if it belongs there). */
function upsert(entry) {
  const index = list.entries.findIndex((e) => e.key === entry.key);
  if (index >= 0) list.entries[index] = entry;
  else if (belongsOnPage(entry.key)) {
    list.entries.push(entry);
    list.entries.sort((a, b) => compareKeys(a.key, b.key));
  }
  render(entry.key);
}

function remove(key) {
  list.entries = list.entries.filter((entry) => entry.key !== key);
  render();
}

function applyChange(kind, change) {
  const known = list.entries.find((entry) => entry.key === change.key);
  noticeChange(kind, change);
  // The page may already hold this change (it was read at or after its revision).
  if (known ? known.revision >= change.revision : change.revision <= list.revision) return;
  const name = `“${displayKey(change.key)}”`;
  if (kind === "put") {
    upsert(change);
    announce(`${name} ${known ? "changed" : "written"}, revision ${change.revision}.`);
  } else {
    remove(change.key);
    announce(`${name} ${change.expired ? "expired" : "deleted"}.`);
  }
}

const feed = new ChangeFeed({
  onChange: applyChange,
  onStatus(state, text) {
    $("live").dataset.state = state;
    $("live-text").textContent = text;
  },
  restart: async () => ((await loadPage(list.page)) ? list.revision + 1 : null),
});

async function browse() {
  list.prefix = $("prefix").value;
  list.limit = Number($("page-size").value);
  list.cursors = [null];
  feed.stop();
  if (await loadPage(0)) feed.follow(list.prefix, list.revision + 1);
}

function start() {
  $("prefix-form").addEventListener("submit", (event) => {
    event.preventDefault();
    clearError();
    browse();
  });
  $("prev").addEventListener("click", () => loadPage(list.page - 1));
  $("next").addEventListener("click", () => loadPage(list.page + 1));
  $("alert-dismiss").addEventListener("click", clearError);
  startEditor({ prefix: () => list.prefix, saved: upsert, deleted: remove, refresh: () => render() });
  browse();
}

start();
