// The isolated-world bridge: carries window.profile calls to the service worker and the
// settlements back. It adds nothing: the service worker takes the caller's origin from the
// browser's MessageSender, never from here.
//
// Each call uses its own port. The service worker acknowledges a call only when it is about to
// ask the person: a port that closes before any acknowledgement means the worker was not running
// yet (a page calling at load in a freshly started browser) or stopped while only the host was
// asked, so the call is sent again (nobody is asked twice); one that closes after it means the
// worker stopped while the person was being asked, which the page learns as `internal`. A call
// answered from a remembered grant is one message each way.
(() => {
  const TAG = "__personalProfile";
  const RETRIES = 20;

  const failure = (message) => ({ status: "rejected", code: "internal", message });

  function callExtension(page, attempt) {
    return new Promise((resolve) => {
      let acknowledged = false;
      let settled = false;
      let port;
      try {
        port = chrome.runtime.connect({ name: "page-call" });
      } catch {
        resolve(failure("the Personal Profile extension is not available"));
        return;
      }
      port.onMessage.addListener((message) => {
        if (message.ack) acknowledged = true;
        if (message.settlement) {
          settled = true;
          resolve(message.settlement);
          port.disconnect();
        }
      });
      port.onDisconnect.addListener(() => {
        if (settled) return;
        if (!acknowledged && attempt < RETRIES) {
          setTimeout(() => callExtension(page, attempt + 1).then(resolve), 50 * (attempt + 1));
        } else {
          resolve(failure(acknowledged ? "the extension restarted during the request; try again" : "the Personal Profile extension did not answer"));
        }
      });
      port.postMessage({ page });
    });
  }

  window.addEventListener("message", (event) => {
    const data = event.data;
    if (event.source !== window || !data || data[TAG] !== "call") return;
    callExtension({ method: String(data.method), params: data.params }, 0).then((settlement) =>
      window.postMessage({ [TAG]: "answer", id: data.id, settlement }, "*"),
    );
  });
})();
