// The token the console sends as `Authorization: Bearer`, when the server requires one. It is
// asked for when the API answers 401, and kept in sessionStorage: for this tab only, gone when
// the tab closes, never in a cookie or a URL.
const STORAGE_KEY = "kv.token";

let asking = null; // the dialog's answer while it is open: every refused call waits on it

/** The headers that carry the tab's token (none before one is given). */
export function authorization() {
  const token = sessionStorage.getItem(STORAGE_KEY);
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/**
 * Ask for a token (the API answered 401 with `message`); resolves true once one is given,
 * false if the user cancels. Calls refused at the same time share one dialog.
 */
export function askToken(message) {
  if (asking !== null) return asking;
  asking = new Promise((resolve) => {
    const dialog = document.getElementById("token-dialog");
    const form = document.getElementById("token-form");
    const input = document.getElementById("token-input");
    const hadToken = sessionStorage.getItem(STORAGE_KEY) !== null;
    document.getElementById("token-text").textContent = hadToken
      ? `The token was refused: ${message}`
      : "This kv server requires a token. It is kept for this tab only.";
    input.value = "";
    const finish = (given) => {
      form.removeEventListener("submit", submitted);
      dialog.removeEventListener("cancel", cancelled);
      document.getElementById("token-cancel").removeEventListener("click", cancelled);
      if (dialog.open) dialog.close();
      asking = null;
      resolve(given);
    };
    // Read here, never submitted: the page's policy allows no form submission.
    const submitted = (event) => {
      event.preventDefault();
      const token = input.value.trim();
      if (token) sessionStorage.setItem(STORAGE_KEY, token);
      finish(Boolean(token));
    };
    const cancelled = (event) => {
      event.preventDefault();
      finish(false);
    };
    form.addEventListener("submit", submitted);
    dialog.addEventListener("cancel", cancelled);
    document.getElementById("token-cancel").addEventListener("click", cancelled);
    dialog.showModal();
    input.focus();
  });
  return asking;
}
