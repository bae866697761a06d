// The toolbar popup: what the current site has from this profile, and the lock.
import { $, activityList, ask, el, hostDown, onDay, showInstallCommand, siteOf, unlockFailure } from "./pages.js";

// The tab the popup was opened on.
let tabId = null;

// The current tab's origin: its URL when the person opened the popup on it (activeTab), or
// else the origin its page last called window.profile from.
async function currentOrigin() {
  const [tab] = await chrome.tabs.query({ active: true, currentWindow: true });
  if (!tab) return null;
  tabId = tab.id;
  if (tab.url) {
    const origin = new URL(tab.url).origin;
    if (origin.startsWith("http")) return origin;
  }
  return chrome.runtime.sendMessage({ tabOrigin: tab.id });
}

// ---- filling the page's forms ----------------------------------------------------------------
// The worker describes the tab's frames and plans in Rust; this shows the preview (each field and
// what each button puts there) and asks for the fill on a click.
const fillAsk = (message) => chrome.runtime.sendMessage({ fill: { tabId, ...message } });
const PURPOSES = { shipping: "Shipping", billing: "Billing" };
let autoFilled = false;

function fillRow(row) {
  const lines = [];
  if (row.kept) lines.push(`Left as it is: ${row.kept}`);
  else if (row.shipping && row.billing && row.shipping !== row.billing) {
    lines.push(`Shipping: ${row.shipping}`, `Billing: ${row.billing}`);
  } else lines.push(row.shipping || row.billing);
    const note = row.replaces && !row.kept ? el("div", { className: "note" }, "Replaces what the page put there") : null;
  return el("li", { className: row.kept ? "kept" : "" }, el("span", { className: "key" }, row.label),
    el("div", { className: "value" }, ...lines.map((line) => el("div", {}, line)), note));
}

function showPreview(preview) {
  const parts = [];
  const hidden = preview.frames.reduce((n, frame) => n + frame.hidden, 0);
  if (!preview.frames.some((frame) => frame.sections.length)) {
    parts.push(el("p", { className: "small muted" }, "No form on this page takes an address."));
  }
  for (const frame of preview.frames.filter((f) => f.sections.length)) {
    if (frame.otherSite) {
      parts.push(el("p", { className: "callout warn small frame-note" }, el("span", {}, "In a frame from ",
        el("strong", {}, frame.site), ", another site than this page: these fields go to it.")));
    }
    for (const section of frame.sections) {
      const title = section.title || "Form";
      parts.push(el("h3", { className: "section-head" }, title,
        section.purpose ? el("span", { className: "pill" }, PURPOSES[section.purpose]) : null));
      parts.push(el("ul", { className: "rows" }, ...section.rows.map(fillRow)));
    }
  }
  if (hidden) {
    parts.push(el("p", { className: "small muted", id: "fill-hidden" },
      hidden === 1 ? "1 field on this page cannot be seen: it is never filled." : `${hidden} fields on this page cannot be seen: they are never filled.`));
  }
  $("#fill-preview").replaceChildren(...parts);
}

// The choice of saved address, shown when there are two or more: each by its label, the
// defaults named ("Home — default for shipping"); the first choice keeps each button on its
// kind's default.
function showChoice(saved) {
  const select = $("#fill-address");
  const chosen = select.value;
  const defaults = (entry) => entry.default.length ? ` — default for ${entry.default.join(" and ")}` : "";
  select.replaceChildren(el("option", { value: "" }, "Your defaults (shipping, billing)"),
    ...saved.map((entry) => el("option", { value: entry.id, selected: entry.id === chosen }, `${entry.label}${defaults(entry)}`)));
  $("#fill-choice").hidden = saved.length < 2;
}

// The tab's forms, previewed by the worker: `{origin, preview, saved, remembered}` (the origin
// as the browser gave the top frame's message), or null.
const previewFill = () =>
  tabId === null ? Promise.resolve(null) : fillAsk({ action: "preview", choice: $("#fill-address").value || null }).catch(() => null);

async function showFill(previewed) {
  const card = $("#fill-card");
  const answer = await (previewed || previewFill());
    if (!answer || answer.locked || answer.error || !answer.origin) {
    card.hidden = true;
    document.body.classList.remove("filling");
    return;
  }
  showPreview(answer.preview);
  const { shipping, billing } = answer.preview;
  $("#fill-controls").hidden = shipping + billing === 0;
    showChoice(answer.saved);
  $("#fill-shipping").disabled = shipping === 0;
  $("#fill-billing").disabled = billing === 0;
    card.hidden = false;
  document.body.classList.add("filling");
  if (answer.remembered && !autoFilled && shipping + billing > 0) {
    autoFilled = true;
    await fillNow(answer.remembered, true);
  } else if (shipping + billing > 0) {
    // The 500 ms guard counts from when the buttons are drawn, visible and enabled.
    requestAnimationFrame(() => requestAnimationFrame(() => fillAsk({ action: "shown" })));
  }
}

async function fillNow(button, auto = false) {
  const result = $("#fill-result");
  delete result.dataset.filled;
  const answer = await fillAsk({ action: "fill", button, auto, choice: $("#fill-address").value || null, remember: $("#fill-remember").checked })
    .catch((e) => ({ error: e.message }));
  if (answer && answer.ignored) {
    $("#fill-too-soon").hidden = false;
    return;
  }
  $("#fill-too-soon").hidden = true;
  if (answer && answer.locked) {
    await show();
    return;
  }
    if (answer && answer.changed) await showFill(null);
  result.className = answer && !answer.error ? "callout" : "callout danger";
  result.textContent = answer ? answer.error || answer.sentence : "The extension did not answer.";
  result.dataset.filled = String((answer && answer.filled) || 0);
  result.hidden = false;
}

const fact = (title, sub) => el("li", {}, el("div", { className: "grow" }, el("div", {}, title), sub ? el("div", { className: "sub" }, sub) : null));

async function show() {
  let origin = await currentOrigin().catch(() => null);
  // The forms are described while the rest loads; a tab whose URL the popup may not read (it
  // was opened without a click on the toolbar button) is named by the origin the browser gave
  // its page's message.
  const previewed = previewFill();
  origin = origin || ((await previewed) || {}).origin || null;
  const site = origin ? siteOf(origin) : null;
  $("#site").textContent = site || "No website in this tab";
  $("#avatar").textContent = site ? site.replace(/^www\./, "").charAt(0) : "·";
  $("#banner").hidden = true;
  try {
    const status = await ask("status");
    $("#host-missing").hidden = true;
    $("#lock-state").textContent = status.locked ? "Locked" : "Unlocked";
    $("#lock-state").className = `pill ${status.locked ? "warn" : "ok"}`;
    $("#lock").hidden = status.locked || !status.passphraseSet;
    $("#unlock-form").hidden = !status.locked;
    if (status.locked) {
      $("#fill-card").hidden = true;
      $("#facts").replaceChildren();
      $("#recent-card").hidden = true;
      $("#forget").hidden = true;
      return;
    }
    if (!origin) {
      $("#facts").replaceChildren(fact("Open a website to see what it has from your profile."));
      return;
    }
    const [accounts, grants, activity] = await Promise.all([
      ask("listAccounts"), ask("listGrants"), ask("listDisclosures", { limit: 100 }),
    ]);
    const mine = accounts.filter((a) => a.origin === origin);
    const granted = grants.filter((g) => g.origin === origin && !g.topOrigin);
    const facts = [
      mine.length
        ? fact(mine.length > 1 ? `You have ${mine.length} accounts here` : "You have an account here",
          `Made ${onDay(Math.min(...mine.map((a) => a.createdAt)))}; you log in with a click`)
        : fact("No account here"),
      granted.length
        ? fact("Gets without asking", granted.map((g) => g.label).join(", "))
        : fact("Asks you before anything leaves"),
    ];
    $("#facts").replaceChildren(...facts);
    const here = activity.filter((entry) => entry.origin === origin).slice(0, 2);
    $("#recent").replaceChildren();
    activityList(here, $("#recent"));
    $("#recent-card").hidden = here.length === 0;
    $("#forget").hidden = !grants.some((g) => g.origin === origin || g.topOrigin === origin);
    $("#forget").onclick = async () => {
      await ask("revoke", { origin });
      await show();
    };
    await showFill(previewed);
  } catch (e) {
    if (hostDown(e)) {
      $("#host-missing").hidden = false;
      $("#lock-state").textContent = "Not installed";
      $("#lock-state").className = "pill danger";
    } else {
      $("#banner").textContent = e.message;
      $("#banner").hidden = false;
    }
  } finally {
    document.body.dataset.loaded = "true";
  }
}

$("#unlock-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    await ask("unlock", { passphrase: $("#passphrase").value });
    $("#passphrase").value = "";
    $("#unlock-error").hidden = true;
    await show();
  } catch (e) {
    $("#unlock-error").textContent = unlockFailure(e);
    $("#unlock-error").hidden = false;
  }
});
$("#fill-shipping").addEventListener("click", () => fillNow("shipping"));
$("#fill-billing").addEventListener("click", () => fillNow("billing"));
// Another address: nothing can be filled until its preview is drawn (the guard starts again).
$("#fill-address").addEventListener("change", () => {
  $("#fill-shipping").disabled = true;
  $("#fill-billing").disabled = true;
  showFill(null);
});
$("#lock").addEventListener("click", async () => {
  await ask("lock").catch(() => {});
  await show();
});
showInstallCommand();
$("#check-again").addEventListener("click", () => show());
$("#settings").addEventListener("click", () => chrome.runtime.openOptionsPage());
// Opening the popup is the person's doing: it keeps an unlocked profile open.
ask("activity").catch(() => {});
show();
