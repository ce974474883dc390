// The change feed of a prefix, as an EventSource on /v1/watch (docs/watch.md).
import { parseJson, watchUrl } from "./api.js";

const FIRST_RETRY_MS = 2000;
const LAST_RETRY_MS = 30000;

/**
 * Follows the changes under a prefix and hands each to `onChange(kind, change)`.
 *
 * A dropped connection is the browser's to resume: EventSource reconnects by itself and sends
 * Last-Event-ID, so the stream goes on after the last event seen. A stream the server refuses
 * (410 compacted, or no watch at all) closes for good; then `restart()` is called, which reads
 * the page afresh and resolves to the revision to follow from (null: it failed, try again),
 * later and later while it keeps failing. `onStatus(state, text)` tells the user which it is.
 */
export class ChangeFeed {
  constructor({ onChange, onStatus, restart }) {
    this.onChange = onChange;
    this.onStatus = onStatus;
    this.restart = restart;
    this.source = null;
    this.retryTimer = null;
    this.retryDelay = FIRST_RETRY_MS;
  }

  /** Follow changes under `prefix` from `fromRevision` on, instead of what it followed. */
  follow(prefix, fromRevision) {
    this.stop();
    this.prefix = prefix;
    const source = new EventSource(watchUrl(prefix, fromRevision));
    this.source = source;
    this.onStatus("connecting", "Connecting…");
    source.addEventListener("open", () => {
      this.retryDelay = FIRST_RETRY_MS;
      this.onStatus("live", "Live");
    });
    for (const kind of ["put", "delete"]) {
      source.addEventListener(kind, (event) => this.onChange(kind, parseJson(event.data)));
    }
    source.addEventListener("error", () => {
      if (source.readyState === EventSource.CONNECTING) {
        this.onStatus("connecting", "Reconnecting…");
      } else {
        this.source = null;
        this.onStatus("offline", "Live updates paused");
        this.scheduleRestart();
      }
    });
  }

  scheduleRestart() {
    this.retryTimer = setTimeout(async () => {
      this.retryTimer = null;
      const prefix = this.prefix;
      const fromRevision = await this.restart();
      if (this.source !== null || this.retryTimer !== null || prefix !== this.prefix) return;
      if (fromRevision === null) this.scheduleRestart();
      else this.follow(prefix, fromRevision);
    }, this.retryDelay);
    this.retryDelay = Math.min(this.retryDelay * 2, LAST_RETRY_MS);
  }

  stop() {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.source?.close();
    this.source = null;
  }
}
