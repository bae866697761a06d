// Service worker glue: wires chrome.* events to the Rust logic in pkg/. No top-level await or
// import() (service workers allow neither): wasm init starts at load, listeners register now.
import init, * as wasm from "./pkg/profile_extension.js";

const ready = init({ module_or_path: new URL("./pkg/profile_extension_bg.wasm", import.meta.url) });
const HOST = "org.personalprofile.host";

// Every entry into Rust goes through `rust`: a Rust function throws its refusal as JSON text;
// anything else it throws is a trap (a Rust panic), after which the module is instantiated afresh
// so the next call works, and the caller sees an `internal` refusal. `generation` counts the
// instances: a `PageCallFlow` lives in the instance that made it and is used in no other.
let generation = 0;
const RESTARTED = JSON.stringify({ status: "rejected", code: "internal", message: "the extension hit an internal error; try again" });

function rust(entry) {
  try {
    return entry();
  } catch (error) {
    if (typeof error === "string") throw error;
    console.error("Personal Profile: the extension's logic failed; restarting it", error);
    wasm.__wbg_reset_state();
    generation++;
    throw RESTARTED;
  }
}

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

// Sends a request `{origin, call: {type, params}}` (origin null: the extension's own); resolves
// with the host's answer, or null when the host is unavailable.
function askHost(request) {
  return new Promise((resolve) => {
    const id = nextId++;
    waiting.set(id, resolve);
    try {
      const { type, params } = request.call;
      hostPort().postMessage({ id, type, origin: request.origin ?? OWN_ORIGIN, params });
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

// One page call: Rust keeps the parsed call (`PageCallFlow`) and says what to do next; this only
// carries out its effects. `acknowledge` tells the bridge before the person is asked, from when
// the call must not be sent again (see content-bridge.js).
async function handlePageCall(message, sender, acknowledge) {
  await ready;
  const born = generation;
  let flow;
  try {
    const browserSays = { origin: sender.origin || "null", topOrigin: topOriginOf(sender), uiLanguage: chrome.i18n.getUILanguage() };
    flow = rust(() => new wasm.PageCallFlow(JSON.stringify(browserSays), JSON.stringify(message)));
  } catch (error) {
    return rejected(error);
  }
  // The browser's serialization of the origin the flow accepted: the same text.
  if (sender.tab && sender.frameId === 0) rememberTabOrigin(sender.tab.id, sender.origin);
  const claim = {};
  try {
    let input = "null";
    for (;;) {
      // A panic elsewhere restarted the module: this call's state went with the old instance.
      if (generation !== born) return rejected(RESTARTED);
      const effect = JSON.parse(rust(() => flow.next(input)));
      switch (effect.effect) {
        case "ask":
          input = JSON.stringify(await askHost(effect.request));
          break;
        case "tell":
          askHost(effect.request);
          input = "null";
          break;
        case "claim":
          // One consent window at a time, whichever site asks; claimed while the preview is
          // fetched.
          input = consent ? "false" : "true";
          if (!consent) consent = claim;
          break;
        case "askPerson":
          acknowledge();
          input = JSON.stringify(await askPerson(claim, effect.prompt, effect.timeoutMs));
          break;
        case "settle":
          return effect.settlement;
        default:
          return rejected(`unknown effect ${effect.effect}`);
      }
    }
  } catch (error) {
    return rejected(error);
  } finally {
    // Whatever failed, the claim goes with it: no later request may find the window busy.
    if (consent === claim) consent = null;
    if (generation === born) flow.free();
  }
}

// The toolbar popup shows the status of the site in the current tab: the origin each tab's
// top-level page last called from, kept in session storage so a worker restart keeps it, and
// written only when it changes (not on every call).
const tabOrigins = new Map();

function rememberTabOrigin(tabId, origin) {
  if (tabOrigins.get(tabId) === origin) return;
  tabOrigins.set(tabId, origin);
  chrome.storage.session.set({ [`tab:${tabId}`]: origin }).catch(() => {});
}

async function tabOrigin(tabId) {
  const key = `tab:${tabId}`;
  return (await chrome.storage.session.get(key))[key] || null;
}

chrome.tabs.onRemoved.addListener((tabId) => {
  tabOrigins.delete(tabId);
  chrome.storage.session.remove(`tab:${tabId}`).catch(() => {});
});

// Requests from the extension's own pages (options, popup) for the extension's own methods.
async function handleOwnCall(request) {
  await ready;
  try {
    const checked = JSON.parse(rust(() => wasm.validateOwnCall(JSON.stringify(request))));
    const answer = await askHost({ origin: null, call: checked });
    const settlement = JSON.parse(rust(() => wasm.settle(JSON.stringify(answer))));
    // The activity log, in people's words: each entry gets its sentence and tone (in Rust).
    if (checked.type === "listDisclosures" && settlement.status === "resolved") {
      const said = JSON.parse(rust(() => wasm.describeActivity(JSON.stringify(settlement.value))));
      settlement.value = settlement.value.map((entry, i) => ({ ...entry, ...said[i] }));
    }
    // Each remembered grant with what the site gets without asking, in words (in Rust).
    if (checked.type === "listGrants" && settlement.status === "resolved") {
      const labels = JSON.parse(rust(() => wasm.describeGrants(JSON.stringify(settlement.value))));
      settlement.value = settlement.value.map((grant, i) => ({ ...grant, label: labels[i] }));
    }
    // Each connected app with what it may do, in words (in Rust).
    if (checked.type === "listApps" && settlement.status === "resolved" && Array.isArray(settlement.value.apps)) {
      const can = JSON.parse(rust(() => wasm.describeApps(JSON.stringify(settlement.value.apps))));
      settlement.value.apps = settlement.value.apps.map((app, i) => ({ ...app, can: can[i] }));
    }
    return settlement;
  } catch (error) {
    return rejected(error);
  }
}

// ---- the consent window ------------------------------------------------------------------------
// The one consent window: null, the claim of a call whose preview is being fetched, or the
// open prompt's state.
let consent = null;

// Opens the consent window for the call holding `claim` and resolves with {allow, remember} or
// "timeout". Closing the window is a deny.
function askPerson(claim, prompt, timeoutMs) {
  return new Promise((resolve) => {
    if (consent !== claim) {
      resolve({ allow: false });
      return;
    }
    const state = { id: crypto.randomUUID(), prompt, shownAt: null, windowId: null };
    const finish = (decision) => {
      if (consent !== state) return;
      consent = null;
      clearTimeout(state.timer);
      if (state.windowId !== null) chrome.windows.remove(state.windowId).catch(() => {});
      resolve(decision);
    };
    state.finish = finish;
    state.timer = setTimeout(() => finish("timeout"), timeoutMs);
    consent = state;
    chrome.windows
            // The window fits itself to its content once drawn (consent.js).
      .create({ url: `consent.html#${state.id}`, type: "popup", width: 460, height: 560, focused: true })
      .then((window) => (state.windowId = window.id), () => finish({ allow: false }));
  });
}

function promptById(id) {
  return consent && consent.id === id ? consent : null;
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
  if (consent && consent.windowId === windowId) consent.finish({ allow: false });
});

// The click guard starts again whenever the consent window comes (back) to the front: a window
// that was covered is new to the person when it is uncovered.
function shownAgain(state) {
  if (state && state.shownAt !== null) state.shownAt = Date.now();
}

chrome.windows.onFocusChanged.addListener((windowId) => {
  if (consent && consent.windowId === windowId) shownAgain(consent);
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
  if (state.shownAt === null || !rust(() => wasm.clickCounts(Date.now() - state.shownAt))) return { ignored: true };
  // `keep`: the optional claims left ticked; Rust keeps only those the request made optional.
  const keep = Array.isArray(message.keep) ? message.keep.filter((claim) => typeof claim === "string") : [];
  state.finish({ allow: Boolean(message.allow), remember: Boolean(message.remember), keep });
  return { done: true };
}

// Page calls arrive on a port per call from the bridge. The worker acknowledges a call only
// before it asks the person (see content-bridge.js): a call answered from a remembered grant
// costs one message each way.
chrome.runtime.onConnect.addListener((port) => {
  if (port.name !== "page-call" || !port.sender || port.sender.id !== chrome.runtime.id) return;
  port.onMessage.addListener((message) => {
    if (!message || !message.page) return;
    const acknowledge = () => {
      try {
        port.postMessage({ ack: true });
      } catch {
        // The page went away.
      }
    };
    handlePageCall(message.page, port.sender, acknowledge).then((settlement) => {
      try {
        port.postMessage({ settlement });
      } catch {
        // The page went away.
      }
    });
  });
});

// ---- filling forms ----------------------------------------------------------------------------
// The popup asks for a preview of the tab's forms and, on the person's click, for the fill. Each
// frame's content script (content-fill.js) describes its controls; the frame's origin is the
// one the browser gives its message. Rust classifies and plans; this carries it out: the host
// records the disclosure (`fill`) before any value goes into the page.
const FRAMES_WAIT_MS = 1500;
const scans = new Map();
// When the fill buttons became visible and enabled, per tab (the 500 ms guard).
const fillShown = new Map();
// The frames the last preview showed, per tab, with how many fields each button fills in each:
// a click fills no other frame and no more fields (decided in Rust).
const fillPreviewed = new Map();

// Every frame of the tab that answers, as `{…description, frameId, origin, url, documentId}`:
// each frame's content script answers the worker's broadcast with a message of its own, so its
// origin and URL are the browser's word. Done once as many frames answered as the frames counted
// (one plus each answer's child frames), or after FRAMES_WAIT_MS (a frame without the content
// script never answers).
function describeTab(tabId) {
  performance.mark("fill:describe");
  return new Promise((resolve) => {
    const scan = { id: crypto.randomUUID(), tabId, frames: new Map(), expected: 1 };
    scan.finish = () => {
      if (!scans.has(scan.id)) return;
      clearTimeout(scan.timer);
      scans.delete(scan.id);
      performance.measure("fill:describe", "fill:describe");
      resolve([...scan.frames.values()].sort((a, b) => a.frameId - b.frameId));
    };
    scan.timer = setTimeout(scan.finish, FRAMES_WAIT_MS);
    scans.set(scan.id, scan);
    chrome.tabs.sendMessage(tabId, { fillDescribe: scan.id }).catch((error) => {
      if (/Receiving end does not exist/i.test(String(error && error.message))) scan.finish();
    });
  });
}

function described(message, sender) {
  const scan = scans.get(message.scan);
  if (!scan || !sender.tab || sender.tab.id !== scan.tabId || scan.frames.has(sender.frameId)) return;
  const frame = { ...message.description, frameId: sender.frameId, origin: sender.origin || "null", url: sender.url || "", documentId: sender.documentId };
  scan.frames.set(sender.frameId, frame);
  // How long the frame's content script took to describe it, for the benchmark.
  performance.measure("fill:describe-frame", { start: performance.now(), duration: frame.ms || 0 });
  scan.expected += (frame.frames || []).length;
  // A frame may answer before the one around it: the count is known once the top frame answered.
  if (scan.frames.has(0) && scan.frames.size >= scan.expected) scan.finish();
}

// The names the browser gives each saved address's country, in the pages' languages, the
// browser's and English: a country select may use any of them.
function countryNames(addresses, frames) {
  const languages = [...new Set([...frames.map((f) => f.lang), navigator.language, "en"].filter(Boolean))];
  const names = {};
    for (const { address } of (addresses && addresses.addresses) || []) {
    if (!address || !address.country || names[address.country]) continue;
    const named = languages.map((language) => {
      try {
        return new Intl.DisplayNames([language], { type: "region" }).of(address.country);
      } catch {
        return null;
      }
    });
    names[address.country] = [...new Set(named.filter((name) => name && name !== address.country))];
  }
  return names;
}

// Asks the host for one of the extension's own methods; its value, or throws `{code, message}`.
async function own(type, params = {}) {
  const answer = await askHost({ origin: null, call: { type, params } });
  const settlement = JSON.parse(rust(() => wasm.settle(JSON.stringify(answer))));
  if (settlement.status === "resolved") return settlement.value;
  throw settlement;
}

const GRANT_OF = { shipping: "fillShipping", billing: "fillBilling" };

// What the popup shows: `{origin, preview, saved: [{id, label, default}], remembered}`, or
// `{locked: true}`.
async function fillPreview({ tabId, choice }) {
  await ready;
  const frames = await describeTab(tabId);
  const top = frames.find((frame) => frame.frameId === 0);
  if (!top) return { origin: null };
  let addresses, grants;
  try {
    [addresses, grants] = await Promise.all([own("listAddresses"), own("listGrants")]);
  } catch (error) {
    return error.code === "locked" ? { locked: true } : { error: error.message || "the host did not answer" };
  }
  const request = { origin: top.origin, frames, addresses, names: countryNames(addresses, frames), choice: choice || null };
  performance.mark("fill:classify");
    const preview = JSON.parse(rust(() => wasm.fillPreview(JSON.stringify(request))));
  performance.measure("fill:classify", "fill:classify");
  fillPreviewed.set(tabId, preview.frames.map(({ frameId, origin, shipping, billing }) => ({ frameId, origin, shipping, billing })));
  const remembered = ["shipping", "billing"].find((button) =>
    grants.some((g) => g.origin === top.origin && !g.topOrigin && g.kind === GRANT_OF[button]));
    const saved = addresses.addresses.map(({ id, label, default: defaults }) => ({ id, label, default: defaults }));
  return { origin: top.origin, preview, saved, remembered: remembered || null };
}

// Fills the tab for `button` ("shipping" | "billing") on the person's click (counted only 500 ms
// after the buttons were shown), or, with `auto`, for a site they remembered for fills. Answers
// `{filled, sentence}`, `{ignored: true}` (too soon), `{locked: true}` or `{error}`.
async function fillTab({ tabId, button, choice, remember, auto }) {
  await ready;
  if (!auto) {
    const shown = fillShown.get(tabId);
    if (shown === undefined || !rust(() => wasm.clickCounts(Date.now() - shown))) return { ignored: true };
  }
  const frames = await describeTab(tabId);
  const top = frames.find((frame) => frame.frameId === 0);
  if (!top) return { filled: 0, sentence: "Nothing was filled: this tab has no page to fill." };
  try {
    const [addresses, grants] = await Promise.all([own("listAddresses"), own("listGrants")]);
        const previewed = fillPreviewed.get(tabId) || [];
    const base = { origin: top.origin, frames, addresses, grants, names: countryNames(addresses, frames), choice: choice || null, button, auto: auto ? GRANT_OF[button] : null, previewed };
    performance.mark("fill:plan");
    const planned = JSON.parse(rust(() => wasm.fillPlan(JSON.stringify(base))));
    performance.measure("fill:plan", "fill:plan");
            if (planned && planned.changed) {
      return { error: "The page changed after you looked: check what will be filled, then click again.", changed: true };
    }
    if (!planned) {
      return { error: choice ? "That address is no longer saved: choose another." : "You have no saved address to fill with." };
    }
    // The ledger first: for each origin the host records what goes there, then answers the
    // address to fill with.
    let address = null;
        for (const entry of planned.ledger) address = await own("fill", { origin: entry.origin, kind: planned.kind, id: planned.id, fields: entry.fields });
    const request = { ...base, kind: planned.kind, address, ledger: planned.ledger };
    const plan = JSON.parse(rust(() => wasm.fillPlan(JSON.stringify(request))));
    const filled = [];
    for (const step of plan ? plan.frames : []) {
      const frame = frames.find((f) => f.frameId === step.frameId);
      const send = (steps) => chrome.tabs.sendMessage(tabId, { fillSteps: steps }, { documentId: frame.documentId }).catch(() => null);
      const result = await send(step);
      // How long the frame took to set its values, for the benchmark.
      if (result) performance.measure("fill:set", { start: performance.now(), duration: result.ms || 0 });
      let count = result ? result.filled.length : 0;
      // A country was set: what the form shows now (a region list that loaded) is filled too.
      if (result && result.description) {
        const again = { ...request, frames: [{ ...result.description, frameId: frame.frameId, origin: frame.origin, url: frame.url, documentId: frame.documentId }], again: true };
        const second = JSON.parse(rust(() => wasm.fillPlan(JSON.stringify(again))));
        for (const more of second ? second.frames : []) {
          const extra = await send({ ...more, settle: false });
          count += extra ? extra.filled.length : 0;
        }
      }
      filled.push([step.frameId, count]);
    }
    if (remember && !auto) {
      for (const entry of planned.ledger) {
        const topOrigin = entry.origin === top.origin ? undefined : top.origin;
        await own("grant", { origin: entry.origin, topOrigin, kind: GRANT_OF[button] });
      }
    }
    return JSON.parse(rust(() => wasm.fillReport(JSON.stringify({ ...request, filled }))));
  } catch (error) {
    if (error && error.code === "locked") return { locked: true };
    return { error: (error && error.message) || String(error) };
  }
}

async function handleFill(message) {
  try {
    switch (message.action) {
            case "preview":
        fillShown.delete(message.tabId);
        return await fillPreview(message);
      case "shown":
        fillShown.set(message.tabId, Date.now());
        return { ok: true };
      case "fill":
        return await fillTab(message);
      default:
        return { error: "unknown fill action" };
    }
  } catch (error) {
    return { error: refusal(error).message };
  }
}

// "Fill with Personal Profile" in the context menu opens the popup, as the toolbar button and
// the keyboard shortcut (the manifest's `_execute_action` command) do: filling always goes
// through it.
chrome.runtime.onInstalled.addListener(() => {
  chrome.contextMenus.create({ id: "fill", title: "Fill with Personal Profile", contexts: ["editable", "page", "frame"] }, () => void chrome.runtime.lastError);
});
chrome.contextMenus.onClicked.addListener((info, tab) => {
  if (info.menuItemId === "fill") chrome.action.openPopup(tab ? { windowId: tab.windowId } : {}).catch(() => {});
});
chrome.tabs.onRemoved.addListener((tabId) => fillShown.delete(tabId));

const fromPage = (sender, page) => sender.url && sender.url.startsWith(chrome.runtime.getURL(page));

chrome.runtime.onMessage.addListener((message, sender, sendResponse) => {
  if (sender.id !== chrome.runtime.id || !message) return false;
  if (message.fillDescribed && sender.tab) {
    described(message.fillDescribed, sender);
    return false;
  }
  if (message.fill && fromPage(sender, "popup.html")) {
    handleFill(message.fill).then(sendResponse);
    return true;
  }
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
