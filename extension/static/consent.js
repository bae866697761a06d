// The consent window: renders the prompt the service worker built (in Rust) and reports the
// click. The service worker decides whether a click counts (not within 500 ms of showing).
const id = location.hash.slice(1);
const $ = (selector) => document.querySelector(selector);

async function send(message) {
  return chrome.runtime.sendMessage({ consent: { id, ...message } });
}

// "https://pay." + <strong>shop.example</strong> + ":8443": the registrable domain stands out.
function renderSite(element, site) {
  const strong = document.createElement("strong");
  strong.textContent = site.domain;
  element.replaceChildren(site.before, strong, site.after);
}

function gone() {
  $("#headline").textContent = "This request is no longer waiting.";
  document.querySelectorAll("button, input").forEach((el) => (el.disabled = true));
}

async function show() {
  const answer = await send({ show: true });
  if (!answer || !answer.prompt) return gone();
  const { prompt } = answer;
  document.title = `${prompt.host} — Personal Profile`;
  $("#headline").textContent = prompt.headline;
  renderSite($("#site"), prompt.site);
  if (prompt.appName) {
    // The site's own claim, shown beside its origin, never in place of it.
    $("#app-name").textContent = prompt.appName;
    $("#app-row").hidden = false;
  }
  if (prompt.topSite) {
    renderSite($("#top-site"), prompt.topSite);
    $("#top-row").hidden = false;
    $("#frame-warning").hidden = false;
  }
  $("#items").replaceChildren(
    ...prompt.items.map((item) => {
      const li = document.createElement("li");
      li.textContent = item;
      return li;
    }),
  );
  $("#items").hidden = prompt.items.length === 0;
  if (prompt.note) {
    $("#note").textContent = prompt.note;
    $("#note").hidden = false;
  }
  $("#remember-row").hidden = !prompt.rememberable;
  $("#deny").focus();
}

async function decide(allow) {
  const answer = await send({ allow, remember: $("#remember").checked });
  if (answer && answer.done) window.close();
  else if (answer && answer.gone) gone();
  else if (answer && answer.ignored) {
    // Too soon after the window appeared (or came back to the front): a click meant for
    // something else must not decide.
    $("#too-soon").hidden = false;
  }
}

// Covered and uncovered, or hidden and shown again: the click guard starts over.
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") send({ shownAgain: true });
});
window.addEventListener("focus", () => send({ shownAgain: true }));

$("#allow").addEventListener("click", () => decide(true));
$("#deny").addEventListener("click", () => decide(false));
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape") decide(false);
});
show();
