// The toolbar popup: what the current site has from this profile, and the lock.
import { $, ask, el, hostDown, KIND_LABELS } from "./pages.js";

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

async function show() {
  const origin = await currentOrigin().catch(() => null);
  $("#site").textContent = origin ? new URL(origin).host : "No website in this tab";
  try {
    const status = await ask("status");
    $("#lock-state").textContent = status.locked ? "Locked" : "Unlocked";
    $("#lock-state").className = `pill ${status.locked ? "locked" : "unlocked"}`;
    $("#lock").hidden = status.locked || !status.passphraseSet;
    if (status.locked) {
      $("#facts").replaceChildren(el("li", {}, "Unlock your profile in Settings to use it on this site."));
      return;
    }
    if (!origin) return;
    const [accounts, grants] = await Promise.all([ask("listAccounts"), ask("listGrants")]);
    const mine = accounts.filter((a) => a.origin === origin);
    const granted = grants.filter((g) => g.origin === origin && !g.topOrigin);
    const facts = [
      mine.length
        ? `Signed up as ${mine.map((a) => a.accountGuid).join(", ")}`
        : "No account here",
      granted.length
        ? `Gets without asking: ${granted.map((g) => KIND_LABELS[g.kind] || g.kind).join(", ")}`
        : "Asks before anything leaves",
    ];
    $("#facts").replaceChildren(...facts.map((fact) => el("li", {}, fact)));
    $("#forget").hidden = !grants.some((g) => g.origin === origin || g.topOrigin === origin);
    $("#forget").onclick = async () => {
      await ask("revoke", { origin });
      await show();
    };
  } catch (e) {
    $("#banner").textContent = hostDown(e) ? "The Personal Profile host is not running or not installed." : e.message;
    $("#banner").hidden = false;
  } finally {
    document.body.dataset.loaded = "true";
  }
}

$("#lock").addEventListener("click", async () => {
  await ask("lock").catch(() => {});
  await show();
});
$("#settings").addEventListener("click", () => chrome.runtime.openOptionsPage());
// Opening the popup is the person's doing: it keeps an unlocked profile open.
ask("activity").catch(() => {});
show();
