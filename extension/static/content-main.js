// window.profile, defined in the page's own world at document_start so a page's first inline
// script sees it. Glue only: every call goes to the extension, which decides.
(() => {
  if (window.profile) return;
  const TAG = "__personalProfile";
  const pending = new Map();
  let nextId = 1;

  window.addEventListener("message", (event) => {
    const data = event.data;
    if (event.source !== window || !data || data[TAG] !== "answer") return;
    const settle = pending.get(data.id);
    if (!settle) return;
    pending.delete(data.id);
    settle(data.settlement);
  });

  const call = (method, params) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, (s) => {
        if (s && s.status === "resolved") return resolve(s.value);
        const error = new Error((s && s.message) || "Personal Profile did not answer");
        error.code = (s && s.code) || "internal";
        reject(error);
      });
      window.postMessage({ [TAG]: "call", id, method, params: params === undefined ? null : params }, "*");
    });

  const api = Object.freeze({
    version: "1",
    getProfileUrl: () => call("getProfileUrl"),
    getDeviceId: () => call("getDeviceId"),
    getAddress: (kind) => call("getAddress", kind),
    signUp: (options) => call("signUp", options),
    login: (options) => call("login", options),
    request: (options) => call("request", options),
    getLanguage: () => call("getLanguage"),
    addBookmark: (offer) => call("addBookmark", offer),
    requestGrant: (options) => call("requestGrant", options),
  });
  Object.defineProperty(window, "profile", { value: api, enumerable: true });
  window.dispatchEvent(new Event("profile:ready"));
})();
