// The consent window: renders the prompt the service worker built (in Rust) and reports the
// click. The service worker decides whether a click counts (not within 500 ms of showing).
import { $, countryName, el, icon, postalLines } from "./pages.js";

const id = location.hash.slice(1);

async function send(message) {
  return chrome.runtime.sendMessage({ consent: { id, ...message } });
}

// "https://pay." + <strong>shop.example</strong> + ":8443": the registrable domain stands out.
function renderSite(element, site) {
  element.replaceChildren(site.before, el("strong", {}, site.domain), site.after);
}

// A request's claims, each with exactly what would leave: an optional one with a checkbox
// (ticked), a required one with none, one the profile does not hold said so.
function claimRow(row) {
  const value = row.held
    ? el("span", { className: "claim-value" }, ...postalLines(row.country ? [...row.lines, countryName(row.country)] : row.lines, false))
    : el("span", { className: "claim-value missing" }, "Not in your profile: nothing will be sent");
  const title = el("span", { className: "claim-title" }, row.label);
  const text = el("span", { className: "claim-text" }, title, value);
  const item = el("li", { className: row.held ? "claim" : "claim missing" });
  item.dataset.claim = row.claim;
  if (row.optional && row.held) {
    const box = el("input", { type: "checkbox", checked: true, id: `keep-${row.claim.replace(/[^A-Za-z0-9]/g, "-")}` });
    box.dataset.claim = row.claim;
    item.append(el("label", { className: "claim-line", htmlFor: box.id }, box, text, el("span", { className: "tag" }, "Optional")));
  } else {
    item.append(el("div", { className: "claim-line" }, el("span", { className: "claim-mark", ariaHidden: "true" }, row.held ? "✓" : "–"), text,
      row.optional ? el("span", { className: "tag" }, "Optional") : null));
  }
  return item;
}

// A grant: each thing the app will be able to do, with its icon; what leaves; how long it holds.
function showGrant(grant) {
  $("#grant-can").replaceChildren(...grant.can.map((can) => {
    const item = el("li", { className: "can" }, icon(can.action),
      el("span", { className: "can-text" }, el("span", { className: "can-title" }, can.text),
        can.detail ? el("span", { className: "can-detail" }, can.detail) : null));
    item.dataset.action = can.action;
    return item;
  }));
  $("#grant-can").hidden = false;
  $("#leaves-label").textContent = `${grant.app} will be able to`;
  $("#grant-sealed").replaceChildren(icon("sealed"), el("span", {}, grant.sealed));
  $("#grant-lasting").replaceChildren(icon("lasting"), el("span", {}, grant.lasting));
  $("#grant-facts").hidden = false;
  if (grant.sensitive) {
    $("#grant-sensitive").textContent = grant.sensitive;
    $("#grant-sensitive").hidden = false;
  }
  $("#app-says").textContent = "Registered as";
}

// The window fits its content: no empty half, no scrolling to reach the buttons.
async function fitWindow() {
  await new Promise(requestAnimationFrame);
  const chromeHeight = window.outerHeight - window.innerHeight;
  const height = Math.min(Math.ceil(document.documentElement.scrollHeight) + chromeHeight, screen.availHeight);
  try {
    const current = await chrome.windows.getCurrent();
    if (current.type === "popup" && Math.abs(current.height - height) > 2) {
      await chrome.windows.update(current.id, { height });
    }
  } catch {
    // Not a window of its own (a test opened the page in a tab): nothing to fit.
  }
}

function gone() {
  document.title = "Request ended — Personal Profile";
  $("#asking").hidden = true;
  $("#expired").hidden = false;
  document.body.dataset.state = "expired";
  $("#close").focus();
  fitWindow();
}

async function show() {
  const answer = await send({ show: true });
  if (!answer || !answer.prompt) return gone();
  const { prompt } = answer;
  document.title = `${prompt.host} — Personal Profile`;
  $("#avatar").textContent = prompt.site.domain.replace(/^www\./, "").charAt(0);
  $("#domain").textContent = prompt.site.domain;
  $("#site").textContent = prompt.origin;
  if (prompt.appName) {
    // The site's own claim, shown beside its origin, never in place of it.
    $("#app-name").textContent = prompt.appName;
    $("#app-row").hidden = false;
  }
  if (prompt.topSite) {
    $("#top-domain").textContent = prompt.topSite.domain;
    renderSite($("#top-site"), prompt.topSite);
    $("#frame-domain").textContent = prompt.host;
    $("#frame-warning").hidden = false;
  }
  $("#headline").textContent = prompt.headline;
  $("#items").replaceChildren(
        ...prompt.leaves.map((leaf) =>
      el("li", {}, el("span", { className: "title" }, leaf.title), el("span", { className: "detail" }, leaf.detail))),
  );
  $("#items").hidden = prompt.leaves.length === 0;
  if (prompt.address) {
    const lines = [...prompt.address.lines];
    if (prompt.address.country) lines.push(countryName(prompt.address.country));
        $("#address").replaceChildren(...postalLines(lines));
    $("#address-card").hidden = false;
  }
  if (prompt.purpose) {
    // The site's own words, never the extension's: quoted, and said to be the site's.
    $("#purpose-site").textContent = prompt.host;
    $("#purpose-text").textContent = `“${prompt.purpose}”`;
    $("#purpose").hidden = false;
  }
  if (prompt.claims.length) {
    $("#claims").replaceChildren(...prompt.claims.map(claimRow));
    $("#claims").hidden = false;
    const choosable = prompt.claims.some((row) => row.optional && row.held);
    $("#leaves-label").textContent = choosable ? "It will receive (untick what you would rather keep)" : "It will receive";
  }
  if (prompt.bookmark) {
    $("#bookmark-title").textContent = prompt.bookmark.title;
    renderSite($("#bookmark-url"), prompt.bookmark.url);
    if (prompt.bookmark.note) {
      $("#bookmark-note").textContent = prompt.bookmark.note;
      $("#bookmark-note").hidden = false;
    }
    $("#bookmark-card").hidden = false;
    $("#leaves-label").textContent = "The bookmark";
  }
  if (prompt.grant) showGrant(prompt.grant);
  $("#leaves-label").hidden = !prompt.address && !prompt.claims.length && !prompt.bookmark && !prompt.grant && prompt.leaves.length === 0;
  $("#ids").replaceChildren(
        ...prompt.details.flatMap((d) => [el("dt", {}, d.label), el("dd", {}, d.value)]),
  );
  $("#details").hidden = prompt.details.length === 0;
  if (prompt.note) {
    $("#note").textContent = prompt.note;
    $("#note").hidden = false;
  }
  $("#allow").textContent = prompt.action;
  $("#remember-row").hidden = !prompt.rememberable;
  if (prompt.everyTime) {
    $("#every-time").textContent = prompt.everyTime;
    $("#every-time").hidden = false;
  }
  document.body.dataset.state = "asking";
  $("#deny").focus();
  fitWindow();
}

async function decide(allow) {
  const keep = [...document.querySelectorAll("#claims input[type=checkbox]:checked")].map((box) => box.dataset.claim);
  const answer = await send({ allow, remember: $("#remember").checked, keep });
  if (answer && answer.done) window.close();
  else if (answer && answer.gone) gone();
  else if (answer && answer.ignored) {
    // Too soon after the window appeared (or came back to the front): a click meant for
    // something else must not decide.
    $("#too-soon").hidden = false;
    fitWindow();
  }
}

// Covered and uncovered, or hidden and shown again: the click guard starts over.
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") send({ shownAgain: true });
});
window.addEventListener("focus", () => send({ shownAgain: true }));

$("#allow").addEventListener("click", () => decide(true));
$("#deny").addEventListener("click", () => decide(false));
$("#close").addEventListener("click", () => window.close());
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && document.body.dataset.state === "asking") decide(false);
  else if (event.key === "Escape") window.close();
});
show();
