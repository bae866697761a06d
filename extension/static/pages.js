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

// An action's icon (after Feather's eye, plus and bell): what an app may do at a glance.
const ICONS = {
  read: ["M1 12s4-7 11-7 11 7 11 7-4 7-11 7S1 12 1 12z", "M12 9a3 3 0 1 0 0 6 3 3 0 0 0 0-6z"],
  append: ["M12 5v14", "M5 12h14"],
  subscribe: ["M18 8a6 6 0 0 0-12 0c0 7-3 9-3 9h18s-3-2-3-9", "M13.7 21a2 2 0 0 1-3.4 0"],
  sealed: ["M5 11h14v10H5z", "M8 11V7a4 4 0 0 1 8 0v4"],
  lasting: ["M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18z", "M12 7v5l3 2"],
};

export function icon(action) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  for (const d of ICONS[action] || ICONS.read) {
    const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
    path.setAttribute("d", d);
    svg.append(path);
  }
  return el("span", { className: `can-icon ${action}` }, svg);
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
