// The change feed of a prefix: the Server-Sent Events of /v1/watch (docs/watch.md), read
// with a streaming fetch rather than an EventSource, which cannot send the token's header.
import { askToken, authorization } from "./credentials.js";
import { parseJson, watchUrl } from "./api.js";

const FIRST_RETRY_MS = 2000;
const LAST_RETRY_MS = 30000;

/**
 * Follows the changes under a prefix and hands each to `onChange(kind, change)`.
 *
 * A dropped connection is resumed: the stream is asked for again with Last-Event-ID, so it
 * goes on after the last event seen. A stream the server refuses (410 compacted, 403, or no
 * watch at all) is not asked for again; then `restart()` is called, which reads the page
 * afresh and resolves to the revision to follow from (null: it failed, try again), later and
 * later while it keeps failing. A 401 asks for a token first. `onStatus(state, text)` tells
 * the user which it is.
 */
export class ChangeFeed {
  constructor({ onChange, onStatus, restart }) {
    this.onChange = onChange;
    this.onStatus = onStatus;
    this.restart = restart;
    this.controller = null; // the stream being read (or asked for), to abort it
    this.retryTimer = null;
    this.retryDelay = FIRST_RETRY_MS;
  }

  /** Follow changes under `prefix` from `fromRevision` on, instead of what it followed. */
  follow(prefix, fromRevision) {
    this.stop();
    this.prefix = prefix;
    this.fromRevision = fromRevision;
    this.lastEventId = null;
    this.connect("Connecting…");
  }

  async connect(text) {
    const controller = new AbortController();
    this.controller = controller;
    this.onStatus("connecting", text);
    const headers = { Accept: "text/event-stream", ...authorization() };
    if (this.lastEventId !== null) headers["Last-Event-ID"] = this.lastEventId;
    let response;
    try {
      response = await fetch(watchUrl(this.prefix, this.fromRevision), {
        headers,
        cache: "no-store",
        signal: controller.signal,
      });
    } catch {
      if (!controller.signal.aborted) this.resumeLater(controller);
      return;
    }
    if (response.status === 401) {
      response.body?.cancel();
      if (this.controller !== controller) return;
      if (await askToken("the change stream needs a token")) this.connect(text);
      else this.refused(controller);
      return;
    }
    if (!response.ok) {
      response.body?.cancel();
      this.refused(controller);
      return;
    }
    this.retryDelay = FIRST_RETRY_MS;
    this.onStatus("live", "Live");
    try {
      await this.read(response.body, controller);
    } catch {
      // A dropped connection: resumed below.
    }
    if (!controller.signal.aborted) this.resumeLater(controller);
  }

  /** Dispatch every event of the stream until it ends. */
  async read(body, controller) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    let event = { type: "message", data: [], id: null };
    for (;;) {
      const { value, done } = await reader.read();
      if (done || controller.signal.aborted) return;
      buffer += value;
      const lines = buffer.split(/\r\n|\r|\n/);
      buffer = lines.pop();
      for (const line of lines) {
        if (line === "") {
          if (event.id !== null) this.lastEventId = event.id;
          if (event.type === "put" || event.type === "delete") {
            this.onChange(event.type, parseJson(event.data.join("\n")));
          }
          event = { type: "message", data: [], id: null };
        } else if (!line.startsWith(":")) {
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "event") event.type = text;
          else if (field === "data") event.data.push(text);
          else if (field === "id") event.id = text;
        }
      }
    }
  }

  /** The stream dropped: ask for it again, after the last event seen, a little later. */
  resumeLater(controller) {
    if (this.controller !== controller) return;
    this.onStatus("connecting", "Reconnecting…");
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.controller === controller) this.connect("Reconnecting…");
    }, this.retryDelay);
    this.retryDelay = Math.min(this.retryDelay * 2, LAST_RETRY_MS);
  }

  /** The server refused the stream: read the page again before following anew. */
  refused(controller) {
    if (this.controller !== controller) return;
    this.controller = null;
    this.onStatus("offline", "Live updates paused");
    this.scheduleRestart();
  }

  scheduleRestart() {
    this.retryTimer = setTimeout(async () => {
      this.retryTimer = null;
      const prefix = this.prefix;
      const fromRevision = await this.restart();
      if (this.controller !== null || this.retryTimer !== null || prefix !== this.prefix) return;
      if (fromRevision === null) this.scheduleRestart();
      else this.follow(prefix, fromRevision);
    }, this.retryDelay);
    this.retryDelay = Math.min(this.retryDelay * 2, LAST_RETRY_MS);
  }

  stop() {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.controller?.abort();
    this.controller = null;
  }
}
