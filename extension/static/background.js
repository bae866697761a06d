// Service worker glue: wires chrome.* events to the Rust logic in pkg/. No top-level await or
// import() (service workers allow neither): wasm init starts at load, listeners register now.
import init, * as wasm from "./pkg/profile_extension.js";

const ready = init({ module_or_path: new URL("./pkg/profile_extension_bg.wasm", import.meta.url) });
const HOST = "org.personalprofile.host";

// The Rust functions, guarded: a function throws its refusal as JSON text; anything else it
// throws is a trap (a Rust panic), after which the module is instantiated afresh so the next
// call works, and the caller sees an `internal` refusal.
const logic = new Proxy(wasm, {
  get(module, name) {
    const exported = module[name];
    if (typeof exported !== "function") return exported;
    return (...args) => {
      try {
        return exported(...args);
      } catch (error) {
        if (typeof error === "string") throw error;
        console.error("Personal Profile: the extension's logic failed; restarting it", error);
        module.__wbg_reset_state();
        throw JSON.stringify({ status: "rejected", code: "internal", message: "the extension hit an internal error; try again" });
      }
    };
  },
});

// A refusal thrown by the Rust functions, as `{code, message}` (or `{status, code, message}`);
// never assumes it is JSON.
function refusal(error) {
  try {
    const parsed = JSON.parse(error);
    if (parsed && typeof parsed.code === "string") return parsed;
  } catch {
    // not JSON
  }
  return { code: "internal", message: String(error && error.message ? error.message : error) };
}

const rejected = (error) => {
  const { code, message } = refusal(error);
  return { status: "rejected", code, message };
};

// ---- one persistent native port -------------------------------------------------------------
let port = null;
let nextId = 1;
const waiting = new Map();

function hostPort() {
  if (port) return port;
  port = chrome.runtime.connectNative(HOST);
  port.onMessage.addListener((answer) => {
    const resolve = waiting.get(answer && answer.id);
    if (resolve) {
      waiting.delete(answer.id);
      resolve(answer);
    }
  });
  port.onDisconnect.addListener(() => {
    port = null;
    for (const resolve of waiting.values()) resolve(null);
    waiting.clear();
  });
  return port;
}

// Sends a request; resolves with the host's answer, or null when the host is unavailable.
function askHost(type, origin, params) {
  return new Promise((resolve) => {
    const id = nextId++;
    waiting.set(id, resolve);
    try {
      hostPort().postMessage({ id, type, origin, params });
    } catch {
      waiting.delete(id);
      resolve(null);
    }
  });
}

// ---- page calls -------------------------------------------------------------------------------
const OWN_ORIGIN = new URL(chrome.runtime.getURL("/")).origin;

function topOriginOf(sender) {
  if (!sender.tab || sender.frameId === 0 || !sender.tab.url) return null;
  try {
    return new URL(sender.tab.url).origin;
  } catch {
    return null;
  }
}

async function handlePageCall(message, sender) {
  await ready;
  const senderJson = JSON.stringify({ origin: sender.origin || "null", topOrigin: topOriginOf(sender) });
  let messageJson;
  let call;
  try {
    messageJson = JSON.stringify(message);
    call = JSON.parse(logic.validatePageCall(senderJson, messageJson));
  } catch (error) {
    return rejected(error);
  }
  if (sender.tab && sender.frameId === 0) rememberTabOrigin(sender.tab.id, call.origin);
  try {
    const grants = call.grant ? await askHost("listGrants", OWN_ORIGIN, {}) : null;
    if (!call.grant || !logic.isGranted(JSON.stringify(grants), JSON.stringify(call.grant))) {
      // One consent window at a time, whichever site asks: a second one could hide under or
      // over the first.
      if (openPrompts.size > 0) {
        return { status: "rejected", code: "busy", message: "another request is waiting for the person's answer" };
      }
      openPrompts.set(call.origin, null); // claimed while the preview is fetched
      let prompt;
      try {
        const preview = await askHost("preview", OWN_ORIGIN, call.preview);
        prompt = JSON.parse(logic.consentPrompt(senderJson, messageJson, JSON.stringify(preview)));
      } catch (settlement) {
        openPrompts.delete(call.origin);
        return rejected(settlement);
      }
      let decision;
      try {
        decision = await askPerson(call.origin, prompt);
      } catch (error) {
        // Whatever failed, the claim goes with it: no later request may find the site busy.
        openPrompts.delete(call.origin);
        return rejected(error);
      }
      if (decision === "timeout") return { status: "rejected", code: "timeout", message: "no answer within 60 seconds" };
      // A decision is the person's doing: it keeps an unlocked profile open.
      askHost("activity", OWN_ORIGIN, {});
      if (!decision.allow) return { status: "rejected", code: "user_denied", message: "the person declined" };
      if (decision.remember && call.grant) await askHost("grant", OWN_ORIGIN, call.grant);
    }
    const answer = await askHost(call.request.type, call.origin, call.request.params);
    return JSON.parse(logic.settle(JSON.stringify(answer)));
  } catch (error) {
    return rejected(error);
  }
}

// The toolbar popup shows the status of the site in the current tab: the origin each tab's
// top-level page last called from, kept in session storage so a worker restart keeps it.
function rememberTabOrigin(tabId, origin) {
  chrome.storage.session.set({ [`tab:${tabId}`]: origin }).catch(() => {});
}

async function tabOrigin(tabId) {
  const key = `tab:${tabId}`;
  return (await chrome.storage.session.get(key))[key] || null;
}

chrome.tabs.onRemoved.addListener((tabId) => chrome.storage.session.remove(`tab:${tabId}`).catch(() => {}));

// Requests from the extension's own pages (options, popup) for the extension's own methods.
async function handleOwnCall(request) {
  await ready;
  try {
    const checked = JSON.parse(logic.validateOwnCall(JSON.stringify(request)));
    const answer = await askHost(checked.type, OWN_ORIGIN, checked.params);
    return JSON.parse(logic.settle(JSON.stringify(answer)));
  } catch (error) {
    return rejected(error);
  }
}

// ---- the consent window ------------------------------------------------------------------------
const openPrompts = new Map(); // origin -> prompt state

// Opens the consent window and resolves with {allow, remember} or "timeout". Closing the
// window is a deny.
function askPerson(origin, prompt) {
  return new Promise((resolve) => {
    const state = { id: crypto.randomUUID(), prompt, shownAt: null, windowId: null };
    const finish = (decision) => {
      if (openPrompts.get(origin) !== state) return;
      openPrompts.delete(origin);
      clearTimeout(state.timer);
      if (state.windowId !== null) chrome.windows.remove(state.windowId).catch(() => {});
      resolve(decision);
    };
    state.finish = finish;
    state.timer = setTimeout(() => finish("timeout"), logic.promptTimeoutMs());
    openPrompts.set(origin, state);
    chrome.windows
      .create({ url: `consent.html#${state.id}`, type: "popup", width: 480, height: 600, focused: true })
      .then((window) => (state.windowId = window.id), () => finish({ allow: false }));
  });
}

function promptById(id) {
  for (const state of openPrompts.values()) if (state && state.id === id) return state;
  return null;
}

// A consent window left by an earlier run of this worker asks about a request that already
// failed (its page was told so when the worker stopped): close it.
if (chrome.runtime.getContexts) {
  chrome.runtime
    .getContexts({ contextTypes: ["TAB"] })
    .then((contexts) => {
      for (const context of contexts) {
        const url = context.documentUrl || "";
        if (url.startsWith(chrome.runtime.getURL("consent.html")) && !promptById(new URL(url).hash.slice(1))) {
          chrome.windows.remove(context.windowId).catch(() => {});
        }
      }
    })
    .catch(() => {});
}

chrome.windows.onRemoved.addListener((windowId) => {
  for (const state of openPrompts.values()) if (state && state.windowId === windowId) state.finish({ allow: false });
});

// The click guard starts again whenever the consent window comes (back) to the front: a window
// that was covered is new to the person when it is uncovered.
function shownAgain(state) {
  if (state && state.shownAt !== null) state.shownAt = Date.now();
}

chrome.windows.onFocusChanged.addListener((windowId) => {
  for (const state of openPrompts.values()) if (state && state.windowId === windowId) shownAgain(state);
});

// The consent page asks for its prompt, then reports the person's decision.
async function handleConsent(message) {
  await ready;
  const state = promptById(message.id);
  if (!state) return { gone: true };
  if (message.show) {
    state.shownAt = Date.now();
    return { prompt: state.prompt };
  }
  if (message.shownAgain) {
    shownAgain(state);
    return { ok: true };
  }
  if (state.shownAt === null || !logic.clickCounts(Date.now() - state.shownAt)) return { ignored: true };
  state.finish({ allow: Boolean(message.allow), remember: Boolean(message.remember) });
  return { done: true };
}

// Page calls arrive on a port per call from the bridge; the acknowledgement tells the bridge
// the call arrived (see content-bridge.js).
chrome.runtime.onConnect.addListener((port) => {
  if (port.name !== "page-call" || !port.sender || port.sender.id !== chrome.runtime.id) return;
  port.onMessage.addListener((message) => {
    if (!message || !message.page) return;
    port.postMessage({ ack: true });
    handlePageCall(message.page, port.sender).then(
      (settlement) => {
        try {
          port.postMessage({ settlement });
        } catch {
          // The page went away.
        }
      },
    );
  });
});

const fromPage = (sender, page) => sender.url && sender.url.startsWith(chrome.runtime.getURL(page));

chrome.runtime.onMessage.addListener((message, sender, sendResponse) => {
  if (sender.id !== chrome.runtime.id || !message) return false;
  // Only the extension's own pages may speak for the person.
  if (message.consent && fromPage(sender, "consent.html")) {
    handleConsent(message.consent).then(sendResponse);
    return true;
  }
  if ((message.own || message.tabOrigin !== undefined) && (fromPage(sender, "options.html") || fromPage(sender, "popup.html"))) {
    (message.own ? handleOwnCall(message.own) : tabOrigin(message.tabOrigin)).then(sendResponse);
    return true;
  }
  return false;
});
