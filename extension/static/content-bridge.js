// The isolated-world bridge: carries window.profile calls to the service worker and the
// settlements back. It adds nothing: the service worker takes the caller's origin from the
// browser's MessageSender, never from here.
(() => {
  const TAG = "__personalProfile";
  window.addEventListener("message", (event) => {
    const data = event.data;
    if (event.source !== window || !data || data[TAG] !== "call") return;
    const answer = (settlement) => window.postMessage({ [TAG]: "answer", id: data.id, settlement }, "*");
    chrome.runtime
      .sendMessage({ page: { method: String(data.method), params: data.params } })
      .then(answer, () =>
        answer({ status: "rejected", code: "internal", message: "the Personal Profile extension did not answer" }),
      );
  });
})();
