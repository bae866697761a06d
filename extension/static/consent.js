// The consent window: renders the prompt the service worker built (in Rust) and reports the
// click. The service worker decides whether a click counts (not within 500 ms of showing).
const id = location.hash.slice(1);
const $ = (selector) => document.querySelector(selector);

async function send(message) {
  return chrome.runtime.sendMessage({ consent: { id, ...message } });
}

async function show() {
  const answer = await send({ show: true });
  if (!answer || !answer.prompt) {
    $("#headline").textContent = "This request is no longer waiting.";
    document.querySelectorAll("button, input").forEach((el) => (el.disabled = true));
    return;
  }
  const { prompt } = answer;
  document.title = `${prompt.host} — Personal Profile`;
  $("#headline").textContent = prompt.headline;
  $("#origin").textContent = prompt.origin;
  if (prompt.topOrigin) {
    $("#top-origin").textContent = prompt.topOrigin;
    $("#top-row").hidden = false;
  }
  for (const item of prompt.items) {
    const li = document.createElement("li");
    li.textContent = item;
    $("#items").append(li);
  }
  $("#remember-row").hidden = !prompt.rememberable;
  $("#deny").focus();
}

async function decide(allow) {
  const answer = await send({ allow, remember: $("#remember").checked });
  if (answer && answer.done) window.close();
}

$("#allow").addEventListener("click", () => decide(true));
$("#deny").addEventListener("click", () => decide(false));
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape") decide(false);
});
show();
