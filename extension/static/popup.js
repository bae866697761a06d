// The toolbar popup: what the current site has from this profile, and the lock.
import { $, activityList, ask, copyButton, el, hostDown, INSTALL_COMMAND, KIND_LABELS, onDay, siteOf } from "./pages.js";

// The current tab's origin: its URL when the person opened the popup on it (activeTab), or
// else the origin its page last called window.profile from.
async function currentOrigin() {
  const [tab] = await chrome.tabs.query({ active: true, currentWindow: true });
  if (!tab) return null;
  if (tab.url) {
    const origin = new URL(tab.url).origin;
    if (origin.startsWith("http")) return origin;
  }
  return chrome.runtime.sendMessage({ tabOrigin: tab.id });
}

const fact = (title, sub) => el("li", {}, el("div", { className: "grow" }, el("div", {}, title), sub ? el("div", { className: "sub" }, sub) : null));

async function show() {
  const origin = await currentOrigin().catch(() => null);
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
        ? fact("Gets without asking", granted.map((g) => KIND_LABELS[g.kind] || g.kind).join(", "))
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
    $("#unlock-error").textContent = e.code === "auth_failed" ? "That passphrase is not right." : e.message;
    $("#unlock-error").hidden = false;
  }
});
$("#lock").addEventListener("click", async () => {
  await ask("lock").catch(() => {});
  await show();
});
$("#host-command").textContent = INSTALL_COMMAND;
$("#copy-command-slot").replaceChildren(copyButton(INSTALL_COMMAND, "the install command"));
$("#check-again").addEventListener("click", () => show());
$("#settings").addEventListener("click", () => chrome.runtime.openOptionsPage());
// Opening the popup is the person's doing: it keeps an unlocked profile open.
ask("activity").catch(() => {});
show();
