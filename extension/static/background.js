// Service worker glue: wires chrome.* events to the Rust logic in pkg/. No top-level await or
// import() (service workers allow neither): wasm init starts at load, listeners register now.
import init, * as logic from "./pkg/profile_extension.js";

const ready = init({ module_or_path: new URL("./pkg/profile_extension_bg.wasm", import.meta.url) });
const HOST = "org.personalprofile.host";

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
  const messageJson = JSON.stringify(message);
  let validated;
  try {
    validated = JSON.parse(logic.validatePageCall(senderJson, messageJson));
  } catch (error) {
    const { code, message: text } = JSON.parse(error);
    return { status: "rejected", code, message: text };
  }
  const { grants = [] } = await chrome.storage.local.get("grants");
  if (!logic.isGranted(JSON.stringify(grants), senderJson, messageJson)) {
    if (openPrompts.has(validated.origin)) {
      return { status: "rejected", code: "busy", message: "a prompt for this site is already open" };
    }
    const prompt = JSON.parse(logic.consentPrompt(senderJson, messageJson, "null"));
    const decision = await askPerson(validated, prompt);
    if (decision === "timeout") return { status: "rejected", code: "timeout", message: "no answer within 60 seconds" };
    if (!decision.allow) return { status: "rejected", code: "user_denied", message: "the person declined" };
    if (decision.remember && validated.grantKind) {
      const { grants: latest = [] } = await chrome.storage.local.get("grants");
      latest.push({ origin: validated.origin, topOrigin: validated.topOrigin, kind: validated.grantKind });
      await chrome.storage.local.set({ grants: latest });
    }
  }
  const answer = await askHost(validated.request.type, validated.origin, validated.request.params);
  return JSON.parse(logic.settle(JSON.stringify(answer)));
}

// ---- the consent window ------------------------------------------------------------------------
const openPrompts = new Map(); // origin -> prompt state
let nextPrompt = 1;

// Opens the consent window and resolves with {allow, remember} or "timeout". Closing the
// window is a deny.
function askPerson(validated, prompt) {
  return new Promise((resolve) => {
    const state = { id: String(nextPrompt++), prompt, grantKind: validated.grantKind, shownAt: null, windowId: null };
    const finish = (decision) => {
      if (!openPrompts.has(validated.origin)) return;
      openPrompts.delete(validated.origin);
      clearTimeout(state.timer);
      if (state.windowId !== null) chrome.windows.remove(state.windowId).catch(() => {});
      resolve(decision);
    };
    state.finish = finish;
    state.timer = setTimeout(() => finish("timeout"), logic.promptTimeoutMs());
    openPrompts.set(validated.origin, state);
    chrome.windows
      .create({ url: `consent.html#${state.id}`, type: "popup", width: 460, height: 560, focused: true })
      .then((window) => (state.windowId = window.id), () => finish({ allow: false }));
  });
}

function promptById(id) {
  for (const state of openPrompts.values()) if (state.id === id) return state;
  return null;
}

chrome.windows.onRemoved.addListener((windowId) => {
  for (const state of openPrompts.values()) if (state.windowId === windowId) state.finish({ allow: false });
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

chrome.runtime.onMessage.addListener((message, sender, sendResponse) => {
  if (sender.id !== chrome.runtime.id || !message) return false;
  // Only the extension's own pages may speak for the person.
  if (message.consent && sender.url && sender.url.startsWith(chrome.runtime.getURL("consent.html"))) {
    handleConsent(message.consent).then(sendResponse);
    return true;
  }
  return false;
});
