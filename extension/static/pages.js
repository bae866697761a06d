// Shared by the options page and the toolbar popup: the extension's own requests go through
// the service worker (which checks them in Rust) to the host, and the few ways both pages say
// things (a site, a time, what a site gets) are defined once here.
export const $ = (selector) => document.querySelector(selector);

export async function ask(type, params = {}) {
  const settlement = await chrome.runtime.sendMessage({ own: { type, params } });
  if (settlement && settlement.status === "resolved") return settlement.value;
  const error = new Error((settlement && settlement.message) || "the extension did not answer");
  error.code = (settlement && settlement.code) || "internal";
  throw error;
}

// A country (ISO 3166-1 alpha-2) named in the person's language, from the browser's CLDR data.
export function countryName(code) {
  try {
    return new Intl.DisplayNames([navigator.language, "en"], { type: "region" }).of(code.toUpperCase()) || code;
  } catch {
    return code;
  }
}

// An address's lines as a postal card's contents: a line each, the first (the name) stressed
// unless `stressFirst` is false.
export const postalLines = (lines, stressFirst = true) =>
  lines.flatMap((line, i) => (i ? [el("br"), line] : [stressFirst ? el("span", { className: "name" }, line) : line]));

// What a failed unlock says.
export const unlockFailure = (error) =>
  error.code === "auth_failed" ? "That passphrase is not right." : error.message;

// The "host missing" card's command and its copy button.
export function showInstallCommand() {
  $("#host-command").textContent = INSTALL_COMMAND;
  $("#copy-command-slot").replaceChildren(copyButton(INSTALL_COMMAND, "the install command"));
}

// A site as every page names it: host and port, no scheme (as the consent window does).
export const siteOf = (origin) => {
  try {
    return new URL(origin).host;
  } catch {
    return origin;
  }
};

const DAY = 86400;
const startOfDay = (seconds) => {
  const date = new Date(seconds * 1000);
  date.setHours(0, 0, 0, 0);
  return date.getTime() / 1000;
};

// A date as people read it: "Today", "Yesterday", "Mon 23 Nov", "12 Mar 2025".
export function day(seconds) {
  const today = startOfDay(Date.now() / 1000);
  const that = startOfDay(seconds);
  if (that === today) return "Today";
  if (that === today - DAY) return "Yesterday";
  const sameYear = new Date(seconds * 1000).getFullYear() === new Date().getFullYear();
  return new Date(seconds * 1000).toLocaleDateString(undefined,
    sameYear ? { weekday: "short", day: "numeric", month: "short" } : { dateStyle: "medium" });
}

// A time relative to now when it is recent ("just now", "5 minutes ago"), else the clock time
// of its day ("14:05"), or the day and time further back.
export function ago(seconds) {
  const diff = Math.round(Date.now() / 1000 - seconds);
  if (diff < 45) return "just now";
  const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
  if (diff < 3600) return relative.format(-Math.round(diff / 60), "minute");
  if (diff < 6 * 3600) return relative.format(-Math.round(diff / 3600), "hour");
  const time = new Date(seconds * 1000).toLocaleTimeString(undefined, { hour: "numeric", minute: "2-digit" });
  return startOfDay(seconds) === startOfDay(Date.now() / 1000) ? time : `${day(seconds)}, ${time}`;
}

// A date alone, for "since" and "created".
export const date = (seconds) => day(seconds);

// A date inside a sentence: "today", "yesterday", "on Mon 23 Nov".
export function onDay(seconds) {
  const said = day(seconds);
  return said === "Today" || said === "Yesterday" ? said.toLowerCase() : `on ${said}`;
}

// Builds an element: el("td", {className: "x"}, "text", child…). Text is never parsed as HTML.
export function el(tag, props = {}, ...children) {
  const element = Object.assign(document.createElement(tag), props);
  
  element.append(...children.filter((child) => child !== null && child !== undefined && child !== false));
  return element;
}

// A button that copies `text` and says so; `label` names what it copies for screen readers.
export function copyButton(text, label) {
  const button = el("button", { type: "button", className: "quiet small copy-button", ariaLabel: `Copy ${label}` }, "Copy");
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = "Copied";
    } catch {
      button.textContent = "Select and copy";
    }
    setTimeout(() => (button.textContent = "Copy"), 1500);
  });
  return button;
}

// The activity log grouped by day: a heading per day, a sentence per entry (the sentence and
// its tone come from Rust, see activity.rs), the time relative to now.
export function activityList(entries, container) {
  let list = container.lastElementChild && container.lastElementChild.tagName === "UL" ? container.lastElementChild : null;
  let lastDay = list ? list.dataset.day : null;
  for (const entry of entries) {
    const heading = day(entry.at);
    if (heading !== lastDay) {
      container.append(el("h3", { className: "day" }, heading));
      list = el("ul", { className: "rows activity" });
      list.dataset.day = heading;
      container.append(list);
      lastDay = heading;
    }
    const times = entry.count > 1 ? ` (${entry.count.toLocaleString()} times, the last ${ago(entry.until)})` : "";
    list.append(el("li", { className: "entry" },
      el("span", { className: `tone ${entry.tone}`, ariaHidden: "true" }),
      el("span", { className: "grow" }, entry.sentence + times),
      el("time", { dateTime: new Date(entry.at * 1000).toISOString() }, ago(entry.at))));
  }
}

export const hostDown = (error) => error.code === "host_unavailable";

// The command that installs the host, for the "host missing" card.
export const INSTALL_COMMAND = "profile-host install";
