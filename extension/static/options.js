// The options page: shows what the host keeps and lets the person change it. Every change is
// an extension-own request, checked in Rust by the service worker and served by the host.
import {
  $, activityList, ago, ask, copyButton, countryName, date, el, hostDown, icon, postalLines, showInstallCommand, siteOf,
  unlockFailure,
} from "./pages.js";
import { itemLine, loadCategories, loadPublic, watchPublic } from "./categories.js";


// Shows `text` in a message element, or hides it when there is none.
function say(selector, text) {
  $(selector).textContent = text || "";
  $(selector).hidden = !text;
}

const banner = (text) => say("#banner", text);

// A table with rows, or its empty state in its place.
function fill(tableId, rows) {
  $(`#${tableId} tbody`).replaceChildren(...rows);
  $(`#${tableId}`).hidden = rows.length === 0;
  const empty = $(`#${tableId}-empty`);
  if (empty) empty.hidden = rows.length > 0;
}

const cell = (className, ...children) => el("td", { className }, ...children);

// ---- status ------------------------------------------------------------------------------------
let status = null;

function showState() {
  const pill = $("#state-pill");
  const [text, tone] = status.locked ? ["Locked", "warn"]
    : status.passphraseSet ? ["Unlocked", "ok"] : ["No passphrase", ""];
  pill.textContent = text;
  pill.className = `pill ${tone}`;
}

async function loadStatus() {
  status = await ask("status");
  showState();
  $("#lock-state").textContent = status.locked ? "Locked: sites get nothing until you unlock it"
    : status.vaultNeedsPassphrase ? "Waiting for your passphrase to open the synced profile"
      : status.passphraseSet ? "Unlocked" : "Open, without a passphrase: anyone using this computer account can use it";
  $("#paired").textContent = status.profileUrl || "Not paired: everything stays on this device";
  $("#paired-copy").replaceChildren(status.profileUrl ? copyButton(status.profileUrl, "your profile URL") : "");
  $("#host-version").textContent = `Installed, version ${status.hostVersion}`;
  $("#lock-row").hidden = status.locked || !status.passphraseSet;
  $("#set-passphrase-row").hidden = status.locked || status.passphraseSet || !$("#passphrase-form").hidden;
  $("#unlock-form").hidden = !status.locked && !status.vaultNeedsPassphrase;
  $("#vault-note").hidden = status.locked || !status.vaultNeedsPassphrase;
  $("#unlock").textContent = status.locked ? "Unlock" : "Open profile";
  $("#pair-row").hidden = status.paired || status.locked || !$("#pair-form").hidden;
  $("#unpair-row").hidden = !status.paired;
  say("#sync-halted", status.syncHalted ? syncHaltedText(status.syncHalted) : null);
  if (status.paired) $("#pair-form").hidden = true;
  if (status.passphraseSet) $("#passphrase-form").hidden = true;
  return status;
}

// The profile server offered an older vault than this device had seen: it keeps its data and
// syncs no more until the person pairs again.
function syncHaltedText({ seenCounter, offeredCounter, newerFormat }) {
  if (newerFormat) {
    return "Sync stopped: your profile was saved by a newer version of Personal Profile on another device, which "
      + "this one cannot read. Update Personal Profile (profile-host) on this computer: until then this device "
      + "keeps what it has and writes nothing to your profile server.";
  }
  const offered = offeredCounter < seenCounter
    ? `an older copy of your profile (version ${offeredCounter}) than this device has already seen (version ${seenCounter})`
    : `a different copy of your profile under a version this device has already seen (${seenCounter})`;
  return `Sync stopped: your profile server offered ${offered}. It may have been restored from a backup, or `
    + "tampered with. This device keeps everything and sends nothing more to it. To sync again, unpair this "
    + "device and pair it again: what it holds goes back into the server's copy.";
}

// ---- first run ---------------------------------------------------------------------------------
async function showFirstRun(addresses) {
  const { firstRunHidden } = await chrome.storage.local.get("firstRunHidden").catch(() => ({}));
  const hasAddress = Boolean(addresses && addresses.addresses && addresses.addresses.length);
  const steps = [
    { done: status.passphraseSet, title: "Set a passphrase", why: "Lock your profile when you are away.", action: "Set passphrase", go: openPassphraseForm },
    { done: status.paired, title: "Pair with a profile server", why: "Sync with your other devices, end-to-end encrypted.", action: "Pair", go: openPairForm },
    { done: hasAddress, title: "Add an address", why: "Share it with a shop in one click, when you choose.", action: "Add address", go: openNewAddress },
  ];
  $("#first-run").hidden = Boolean(firstRunHidden) || status.locked || steps.every((step) => step.done);
  $("#steps").replaceChildren(...steps.map((step) => el("li", { className: step.done ? "done" : "" },
    el("div", { className: "grow" }, el("div", { className: "title" }, step.title), el("div", { className: "small muted" }, step.why)),
    step.done ? el("span", { className: "pill ok" }, "Done")
      : el("button", { type: "button", className: "small", onclick: step.go }, step.action))));
}

$("#hide-first-run").addEventListener("click", async () => {
  await chrome.storage.local.set({ firstRunHidden: true }).catch(() => {});
  $("#first-run").hidden = true;
});

// ---- passphrase --------------------------------------------------------------------------------
function openPassphraseForm() {
  $("#passphrase-form").hidden = false;
  $("#set-passphrase-row").hidden = true;
  say("#passphrase-error", null);
  $("#new-passphrase").focus();
}

$("#show-passphrase").addEventListener("click", openPassphraseForm);
$("#passphrase-cancel").addEventListener("click", () => {
  $("#passphrase-form").reset();
  $("#passphrase-form").hidden = true;
  $("#set-passphrase-row").hidden = false;
});

$("#passphrase-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const passphrase = $("#new-passphrase").value;
  if (passphrase !== $("#confirm-passphrase").value) {
    say("#passphrase-error", "The two passphrases differ. Type the same one twice.");
    return;
  }
  try {
    await ask("setPassphrase", { passphrase });
    $("#passphrase-form").reset();
    $("#passphrase-form").hidden = true;
    await load();
  } catch (e) {
    say("#passphrase-error", e.message);
  }
});

// ---- pairing -----------------------------------------------------------------------------------
let pairWithTicket = false;

function setPairMode(ticket) {
  pairWithTicket = ticket;
  $("#pair-account").hidden = ticket;
  $("#pair-ticket-label").hidden = !ticket;
  $("#pair-email").required = $("#pair-passphrase").required = !ticket;
  $("#pair-ticket").required = ticket;
  $("#pair-switch").textContent = ticket ? "Use my email and passphrase instead" : "Use a one-time ticket instead";
}

const PAIR_ERRORS = {
  auth_failed: "The server did not accept that email and passphrase (or ticket) for this profile.",
  rate_limited: "Too many wrong tries: the server asks to wait before the next one.",
  server_unreachable: "The profile server cannot be reached. Check the URL, or try again later.",
};

function openPairForm() {
  setPairMode(false);
  say("#pair-error", null);
  $("#pair-form").hidden = false;
  $("#pair-row").hidden = true;
  $("#pair-url").focus();
}

$("#show-pair").addEventListener("click", openPairForm);
$("#pair-switch").addEventListener("click", () => setPairMode(!pairWithTicket));

$("#pair-cancel").addEventListener("click", () => {
  $("#pair-form").reset();
  $("#pair-form").hidden = true;
  $("#pair-row").hidden = false;
});

$("#pair-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const profileUrl = $("#pair-url").value.trim();
  const params = pairWithTicket
    ? { profileUrl, ticket: $("#pair-ticket").value.trim() }
    : { profileUrl, email: $("#pair-email").value.trim(), passphrase: $("#pair-passphrase").value };
  if ($("#pair-accept-older").checked) params.acceptOlderVault = true;
  const submit = $("#pair-submit");
  submit.disabled = true;
  submit.textContent = "Pairing…";
  say("#pair-error", null);
  try {
    await ask("pair", params);
    $("#pair-form").reset();
    $("#pair-form").hidden = true;
    await load();
  } catch (e) {
    say("#pair-error", PAIR_ERRORS[e.code] || e.message);
    // The server offers an older copy than this device saw: pairing anyway is the person's call.
    if (e.message.includes("older vault")) $("#pair-accept-older-row").hidden = false;
  } finally {
    $("#pair-passphrase").value = "";
    submit.disabled = false;
    submit.textContent = "Pair";
  }
});

$("#unpair").addEventListener("click", async () => {
  try {
    await ask("unpair");
  } catch (e) {
    banner(e.message);
  }
  await load();
});

// ---- addresses ---------------------------------------------------------------------------------
// The book comes from the host (`listAddresses`: each address with its label, the kinds it is the
// default of and its lines in its country's order); a country's form too (`addressFormat`: its
// fields in its order, with its names for them, and its regions), so the page needs no address data.
const KIND_TITLES = { shipping: "shipping", billing: "billing" };
const forms = new Map();

async function addressForm(country) {
  const code = (country || "").toUpperCase();
  if (!forms.has(code)) forms.set(code, ask("addressFormat", { country: code }));
  try {
    return await forms.get(code);
  } catch (e) {
    forms.delete(code);
    throw e;
  }
}

// The country the person most likely lives in, for a new address: the browser's region.
function likelyCountry() {
  const region = (navigator.language.split("-")[1] || "").toUpperCase();
  return /^[A-Z]{2}$/.test(region) ? region : "US";
}

function postalCard(entry) {
    return el("address", { className: "postal" }, ...postalLines([...entry.lines, countryName(entry.address.country)]));
}

// One field of the form: a choice of region where the country has a list, else a text box.
function formField(field, value, regions, idPrefix) {
  const id = `${idPrefix}-${field.name}`;
  let control;
  if (field.name === "region" && regions.length) {
    const known = regions.some((r) => r.key === value);
    control = el("select", { id, name: field.name, required: field.required },
      el("option", { value: "" }, field.required ? "Choose…" : "None"),
      ...regions.map((r) => el("option", { value: r.key, selected: r.key === value }, r.name === r.key ? r.name : `${r.name} (${r.key})`)),
      value && !known ? el("option", { value, selected: true }, value) : null);
  } else {
    const type = field.name === "email" ? "email" : field.name === "phone" ? "tel" : "text";
    control = el("input", { id, name: field.name, type, value: value || "", autocomplete: field.autocomplete || "off", required: field.required });
  }
  return el("label", { className: "field", htmlFor: id }, field.label, control);
}

// The form for a new address (`entry` null) or a saved one, in its country's order; choosing
// another country redraws the fields, keeping what was typed.
function addressEditor(entry, idPrefix, onDone) {
  const error = el("p", { className: "error", role: "alert", hidden: true });
  const fields = el("div", { className: "address-form" });
  const label = el("input", { id: `${idPrefix}-label`, name: "label", value: entry ? entry.label : "", required: true, maxLength: 60, autocomplete: "off" });
  const country = el("select", { id: `${idPrefix}-country`, name: "country", required: true, autocomplete: "country" });
  const form = el("form", { className: "address-form", id: `form-${idPrefix}` },
    el("h3", {}, entry ? `Edit “${entry.label}”` : "New address"),
    el("label", { className: "field", htmlFor: label.id }, "Label (for example Home, Work, Mum's)", label),
    el("label", { className: "field", htmlFor: country.id }, "Country", country),
    fields, error,
    el("div", { className: "buttons" },
      el("button", { type: "button", onclick: onDone }, "Cancel"),
      el("button", { type: "submit", className: "primary" }, "Save address")));
  let values = entry ? { ...entry.address } : {};
  const draw = async (code) => {
    for (const input of fields.querySelectorAll("input, select")) values[input.name] = input.value.trim();
    try {
      const format = await addressForm(code);
      if (!country.options.length) {
        const named = format.countries.map((c) => [c, countryName(c)]).sort((a, b) => a[1].localeCompare(b[1]));
        country.append(...named.map(([c, name]) => el("option", { value: c }, name)));
      }
      country.value = format.country;
      fields.replaceChildren(...format.fields.filter((f) => f.name !== "country")
        .map((f) => formField(f, values[f.name], format.regions || [], idPrefix)));
      error.hidden = true;
    } catch (e) {
      error.textContent = e.message;
      error.hidden = false;
    }
  };
  country.addEventListener("change", () => draw(country.value));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
        // What this country's form does not show is kept as it was (an upgraded address's region
    // where the country has none, a region code), unless a field shown restates it and changed.
    const before = entry && entry.address.country === country.value ? entry.address : { country: country.value };
    const address = { ...before };
    for (const input of fields.querySelectorAll("input, select")) {
      const value = input.value.trim();
      if (value) address[input.name] = value;
      else delete address[input.name];
    }
        const shown = new Set([...fields.querySelectorAll("input, select")].map((input) => input.name));
    const stale = (field, restated) => !shown.has(field) && address[restated] !== before[restated];
    for (const [field, restated] of [["givenName", "name"], ["familyName", "name"], ["regionCode", "region"]]) {
      if (stale(field, restated)) delete address[field];
    }
    try {
      await ask("saveAddress", entry ? { id: entry.id, label: label.value, address } : { label: label.value, address });
      await load();
    } catch (e) {
      error.textContent = e.message;
      error.hidden = false;
    }
  });
  form.ready = draw(entry ? entry.address.country : likelyCountry());
  return form;
}

async function removeAddress(entry) {
  const sure = confirm(`Remove “${entry.label}” from your addresses? It is removed on all your devices.`
    + (entry.default.length ? ` It is your default ${entry.default.join(" and ")} address: sites asking for one will hear you have none until you choose another.` : ""));
  if (!sure) return;
  try {
    await ask("removeAddress", { id: entry.id });
  } catch (e) {
    banner(e.message);
  }
  await load();
}

async function makeDefault(entry, kind) {
  try {
    await ask("setDefaultAddress", { id: entry.id, kind });
  } catch (e) {
    banner(e.message);
  }
  await load();
}

function addressCard(entry) {
  const card = el("article", { className: "address", id: `address-${entry.id}` });
  card.dataset.id = entry.id;
  card.dataset.default = entry.default.join(" ");
  const view = el("div", { className: "address-form" },
    el("h3", {}, entry.label),
    entry.default.length ? el("div", {}, ...entry.default.map((kind) => el("span", { className: "pill ok" }, `Default for ${KIND_TITLES[kind]}`))) : null,
    postalCard(entry),
    el("div", { className: "buttons" },
      el("button", { type: "button", className: "small", id: `edit-${entry.id}`, ariaLabel: `Edit “${entry.label}”`,
        onclick: () => {
          const form = addressEditor(entry, entry.id, () => { form.remove(); view.hidden = false; });
          view.hidden = true;
          card.append(form);
          form.ready.then(() => form.elements.label.focus());
        } }, "Edit"),
      ...["shipping", "billing"].filter((kind) => !entry.default.includes(kind)).map((kind) =>
        el("button", { type: "button", className: "small make-default", id: `default-${kind}-${entry.id}`,
          ariaLabel: `Use for ${kind}: ${entry.label}`, onclick: () => makeDefault(entry, kind) }, `Use for ${kind}`)),
      el("button", { type: "button", className: "small danger", id: `remove-${entry.id}`, ariaLabel: `Remove “${entry.label}”`,
        onclick: () => removeAddress(entry) }, "Remove")));
  card.append(view);
  return card;
}

function openNewAddress() {
  $("#addresses-card").scrollIntoView({ block: "start" });
  if ($("#form-new")) return;
  const card = el("article", { className: "address", id: "address-new" });
  const form = addressEditor(null, "new", () => { card.remove(); $("#add-address").hidden = false; });
  card.append(form);
  $("#addresses").prepend(card);
  $("#add-address").hidden = true;
  form.ready.then(() => form.elements.label.focus());
}

$("#add-address").addEventListener("click", openNewAddress);

function showAddresses(book) {
  $("#addresses").replaceChildren(...book.addresses.map(addressCard));
  $("#addresses-empty").hidden = book.addresses.length > 0;
  $("#add-address").hidden = false;
}

// ---- activity ----------------------------------------------------------------------------------
const LEDGER_PAGE = 50;

// The newest page of the ledger, in place of what is shown.
async function loadActivity() {
  const ledger = await ask("listDisclosures", { limit: LEDGER_PAGE });
  $("#ledger").replaceChildren();
  activityList(ledger, $("#ledger"));
  $("#ledger-empty").hidden = ledger.length > 0;
  $("#ledger-more").hidden = ledger.length < LEDGER_PAGE;
}

// The next page of the ledger, older than what is shown.
async function showOlder() {
  const shown = $("#ledger").querySelectorAll("li.entry").length;
  const older = await ask("listDisclosures", { limit: LEDGER_PAGE, offset: shown });
  activityList(older, $("#ledger"));
  $("#ledger-more").hidden = older.length < LEDGER_PAGE;
}

// ---- accounts and grants -----------------------------------------------------------------------
async function removeAccount(account) {
  const site = siteOf(account.origin);
  const sure = confirm(`Remove your account at ${site} from this profile? Its login key is deleted on all your `
    + "devices, so you will no longer be able to log in there with this profile. The site itself is not told.");
  if (!sure) return;
  try {
    await ask("removeAccount", { origin: account.origin, accountGuid: account.accountGuid });
  } catch (e) {
    banner(e.message);
  }
  await load();
}

function accountRow(account, several) {
  const site = siteOf(account.origin);
  return el("tr", { className: "account" },
    cell("site", site, several ? el("div", { className: "small muted" }, "Account ", el("code", {}, account.accountGuid), " ",
      copyButton(account.accountGuid, `the account ID at ${site}`)) : null),
    cell("when", date(account.createdAt)), cell("when", date(account.lastUsedAt)),
    cell("action", el("button", { type: "button", className: "small danger remove-account", onclick: () => removeAccount(account),
      ariaLabel: `Remove your account at ${site}` }, "Remove")));
}

async function loadProfile() {
  const [addresses, accounts, grants] = await Promise.all([
    ask("listAddresses"),
    ask("listAccounts"),
    ask("listGrants"),
    loadActivity(),
  ]);
  showAddresses(addresses);
  const perSite = new Map();
  for (const account of accounts) perSite.set(account.origin, (perSite.get(account.origin) || 0) + 1);
  fill("accounts", accounts.map((a) => accountRow(a, perSite.get(a.origin) > 1)));
  const bySite = new Map();
  for (const grant of grants) {
    const key = grant.origin + (grant.topOrigin ? ` ${grant.topOrigin}` : "");
    const entry = bySite.get(key) || { grant, kinds: [], since: grant.grantedAt };
    entry.kinds.push(grant.label);
    entry.since = Math.min(entry.since, grant.grantedAt);
    bySite.set(key, entry);
  }
  fill("grants", [...bySite.values()].map(({ grant, kinds, since }) => {
    const site = siteOf(grant.origin);
    return el("tr", {},
      cell("site", site, grant.topOrigin ? el("div", { className: "small muted" }, `inside ${siteOf(grant.topOrigin)}`) : null),
      cell("", kinds.join(", ")), cell("when", date(since)),
      cell("action", el("button", { type: "button", className: "small revoke", onclick: () => revoke(grant.origin),
        ariaLabel: `Forget ${site}: it asks again` }, "Forget")));
  }));
  return addresses;
}

async function loadDevices(paired) {
  $("#devices-card").hidden = !paired;
  if (!paired) return;
  let devices = [];
  try {
    devices = (await ask("listDevices")).devices || [];
    say("#devices-error", null);
  } catch (e) {
    say("#devices-error", `The device list is unavailable: ${e.message}`);
  }
  // Live devices first, this one on top; signed-out ones after, for the record.
  devices.sort((a, b) => (a.revokedAt !== null) - (b.revokedAt !== null) || b.current - a.current);
  fill(
    "devices",
    devices.map((d) => {
      const name = d.current ? [d.name, " ", el("span", { className: "pill ok" }, "This device")] : [d.name];
      const action = d.revokedAt !== null
        ? el("span", { className: "small muted" }, `Signed out ${date(d.revokedAt)}`)
        : d.current
          ? null
          : el("button", { type: "button", className: "small revoke", onclick: () => signOut(d.id), ariaLabel: `Sign out ${d.name}` }, "Sign out");
      return el("tr", { className: d.revokedAt !== null ? "gone" : "" },
        cell("site", ...name), cell("when", date(d.createdAt)), cell("when", date(d.lastSeenAt)), cell("action", action));
    }),
  );
}

async function signOut(pairingId) {
  try {
    await ask("revokeDevice", { pairingId });
  } catch (e) {
    say("#devices-error", e.message);
    return;
  }
  await load();
}

async function revoke(origin) {
  await ask("revoke", { origin });
  await load();
}

// ---- connected apps ----------------------------------------------------------------------------
// `listApps`: every grant the profile server holds, newest first, each with what it may do in
// words (`can`, from Rust: describeApps) and the newest items it appended. Revoked ones are kept
// for the record, greyed, behind "Show revoked".
let showRevoked = false;
const SHOWN_APPENDS = 5;

// "read your addresses, add receipts to your profile or be told when …": what revoking stops.
function whatStops(can) {
  const said = can.map((line) => line.text.charAt(0).toLowerCase() + line.text.slice(1));
  return said.length > 1 ? `${said.slice(0, -1).join(", ")} or ${said[said.length - 1]}` : said[0] || "use your profile";
}

async function revokeApp(app) {
  // A linked profile is a person: unlinking stops both directions, and is said so.
  const sure = confirm(app.linkedProfile
    ? `Unlink ${app.name}? ${app.name} will no longer see your card; you stop seeing theirs. `
      + "Their contact stays in your contacts as it is now."
    : `${app.name} (${siteOf(app.origin)}) will no longer be able to ${whatStops(app.can)}. `
      + "It is told at once. Its copy of what it could read is deleted from your profile server; what it already read, it keeps.");
  if (!sure) return;
  try {
    await ask("revokeApp", { grantId: app.grantId });
    say("#apps-error", null);
  } catch (e) {
    say("#apps-error", `${app.name} was not ${app.linkedProfile ? "unlinked" : "revoked"}: ${e.message}`);
  }
  // The activity says it too, or why not.
  await Promise.all([loadApps(), loadActivity()]);
}

function appCard(app) {
  const revoked = app.revokedAt !== undefined && app.revokedAt !== null;
  const site = siteOf(app.origin);
  const card = el("li", { className: revoked ? "app gone" : "app", id: `app-${app.grantId}` });
  card.dataset.grantId = app.grantId;
  // "Connected today", mid-sentence; "Connected 3 Nov 2026" otherwise.
  const midDate = (seconds) => date(seconds).replace(/^(Today|Yesterday)$/, (day) => day.toLowerCase());
  const facts = [`Connected ${midDate(app.createdAt)}`,
    app.lastReadAt ? `Last read ${ago(app.lastReadAt)}` : "Never read"];
  if (app.lastAppendAt) facts.push(`Last added ${ago(app.lastAppendAt)}`);
  const head = el("div", { className: "app-head" },
    el("span", { className: "avatar", ariaHidden: "true" }, (app.name || site).charAt(0)),
    el("div", { className: "grow" },
      el("h3", { className: "title" }, app.name, app.linkedProfile ? el("span", { className: "pill" }, "Linked profile") : null),
      el("p", { className: "sub" }, el("strong", {}, site), app.origin.startsWith("https://") ? "" : ` (${app.origin})`)),
    revoked
      ? el("span", { className: "pill" }, `${app.linkedProfile ? "Unlinked" : "Revoked"} ${midDate(app.revokedAt)}`)
      : el("button", { type: "button", className: "small danger revoke-app",
        ariaLabel: `${app.linkedProfile ? "Unlink" : "Revoke"} ${app.name}`,
        onclick: () => revokeApp(app) }, app.linkedProfile ? "Unlink" : "Revoke"));
  const can = el("ul", { className: "app-can", ariaLabel: revoked ? `What ${app.name} could do` : `What ${app.name} may do` },
    ...app.can.map((line) => el("li", {}, icon(line.action), el("span", {}, line.text,
      line.detail ? el("span", { className: "sub" }, ` · ${line.detail}`) : null))));
  // A revoked app's scopes are what it could do: said so, not as if it still may.
  card.append(head, ...(revoked ? [el("p", { className: "app-facts" }, "It could:")] : []), can,
    el("p", { className: "app-facts" }, facts.join(" · ")));
  const items = app.appendedItems || [];
  if (items.length) {
    const more = Math.max(app.appended - Math.min(items.length, SHOWN_APPENDS), 0);
    card.append(el("div", { className: "app-added" },
      el("p", { className: "label" }, `What ${app.name} added`),
      el("ul", { className: "rows" }, ...items.slice(0, SHOWN_APPENDS).map((item) => el("li", {},
        el("span", { className: "grow" }, (item.fields && itemLine(item.category, item.fields)) || item.summary),
        el("time", { dateTime: new Date(item.addedAt * 1000).toISOString() }, ago(item.addedAt))))),
      more ? el("p", { className: "sub" }, `and ${more.toLocaleString()} more, in your profile`) : null));
  }
  return card;
}

async function loadApps() {
  let list;
  try {
    list = await ask("listApps");
    say("#apps-error", null);
  } catch (e) {
    list = { apps: [], stale: false };
    if (e.code === "not_paired") {
      $("#apps-empty-text").textContent = "No apps connected. Apps connect through your profile server: pair this device "
        + "with one first, and the apps you connect appear here.";
    } else {
      say("#apps-error", `The connected apps are unavailable: ${e.message}`);
    }
  }
  const live = list.apps.filter((app) => app.revokedAt === undefined || app.revokedAt === null);
  const gone = list.apps.filter((app) => !live.includes(app));
  $("#apps").replaceChildren(...live.map(appCard), ...(showRevoked ? gone.map(appCard) : []));
  $("#apps-empty").hidden = live.length > 0 || (showRevoked && gone.length > 0);
  $("#apps-stale").hidden = !list.stale;
  const toggle = $("#apps-show-revoked");
  toggle.hidden = gone.length === 0;
  toggle.textContent = showRevoked ? "Hide revoked apps" : `Show revoked apps (${gone.length})`;
  toggle.ariaExpanded = String(showRevoked);
}

$("#apps-show-revoked").addEventListener("click", () => {
  showRevoked = !showRevoked;
  loadApps();
});

// ---- linked profiles ---------------------------------------------------------------------------
// A one-time ticket, shown as a QR code and as text, links two profiles: each shares its contact
// card with the other. The linked person then appears in Connected apps, where "Unlink" cuts it.
function showLinkPart(part) {
  $("#link-ticket").hidden = part !== "ticket";
  $("#link-redeem").hidden = part !== "redeem";
  $("#links-actions").hidden = part !== null;
}

// The host's QR code, parsed as SVG and imported as a node: never markup handed to innerHTML.
function qrNode(svgText) {
  const parsed = new DOMParser().parseFromString(svgText, "image/svg+xml");
  const svg = parsed.documentElement;
  if (svg.namespaceURI !== "http://www.w3.org/2000/svg" || svg.localName !== "svg") return null;
  svg.querySelectorAll("script, foreignObject").forEach((node) => node.remove());
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "The ticket as a QR code");
  return document.importNode(svg, true);
}

$("#link-issue").addEventListener("click", async () => {
  say("#link-error", null);
  say("#link-result", null);
  try {
    const issued = await ask("issueLinkTicket");
    const qr = qrNode(issued.qrSvg);
    $("#link-qr").replaceChildren(...(qr ? [qr] : []));
    $("#link-qr").hidden = !qr;
    $("#link-text").value = issued.ticket;
    $("#link-copy").replaceChildren(copyButton(issued.ticket, "the ticket"));
    const until = new Date(issued.expiresAt * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    $("#link-expiry").textContent = `Valid for 10 minutes (until ${until}), works once.`;
    showLinkPart("ticket");
  } catch (e) {
    say("#link-error", e.code === "not_paired"
      ? "Linking goes through your profile server: pair this device with one first."
      : `No ticket was made: ${e.message}`);
  }
});
$("#link-done").addEventListener("click", () => {
  $("#link-text").value = "";
  $("#link-qr").replaceChildren();
  showLinkPart(null);
  loadApps();
});
$("#link-have").addEventListener("click", () => {
  say("#link-error", null);
  say("#link-result", null);
  showLinkPart("redeem");
  $("#link-ticket-input").focus();
});
$("#link-redeem-cancel").addEventListener("click", () => {
  $("#link-ticket-input").value = "";
  say("#link-error", null);
  showLinkPart(null);
});
$("#link-redeem").addEventListener("submit", async (event) => {
  event.preventDefault();
  const ticket = $("#link-ticket-input").value.trim();
  if (!ticket) return;
  $("#link-redeem-submit").disabled = true;
  let linked = null;
  try {
    ({ linked } = await ask("redeemLinkTicket", { ticket }));
    $("#link-ticket-input").value = "";
    say("#link-error", null);
    showLinkPart(null);
    say("#link-result", `Linked with ${linked}. You see each other's contact card; unlink any time in Connected apps.`);
  } catch (e) {
    say("#link-error", `Not linked: ${e.message}`);
  } finally {
    $("#link-redeem-submit").disabled = false;
  }
  if (linked !== null) await Promise.all([loadApps(), loadActivity()]);
});

// ---- the page ----------------------------------------------------------------------------------
function showHostMissing(missing) {
  $("#host-missing").hidden = !missing;
  $("#status-card").hidden = missing;
  $("#sections").hidden = missing;
  document.querySelectorAll("section.card:not(#status-card)").forEach((card) => (card.hidden ||= missing));
  if (missing) {
    $("#state-pill").textContent = "Not installed";
    $("#state-pill").className = "pill danger";
  }
}

async function load() {
  try {
    banner(null);
    await loadStatus();
    showHostMissing(false);
    document.querySelectorAll("section.card:not(#status-card):not(#first-run)").forEach((card) => (card.hidden = status.locked));
    $("#sections").hidden = status.locked;
    // Until the synced vault is open, its addresses and accounts are not here: "none saved" would mislead.
    const synced = ["#addresses-card", "#accounts-card", "#public-card", ...document.querySelectorAll("section.category")];
    for (const card of synced) (typeof card === "string" ? $(card) : card).hidden ||= status.vaultNeedsPassphrase;
    if (!status.locked) {
      // The apps after the categories: an app's added items are written as their category's list writes them.
      const [addresses] = await Promise.all([loadProfile(), loadDevices(status.paired), loadData().then(loadApps)]);
      await showFirstRun(addresses);
    } else {
      $("#first-run").hidden = true;
    }
  } catch (e) {
    if (hostDown(e)) showHostMissing(true);
    else banner(e.message);
  } finally {
    document.body.dataset.loaded = "true";
  }
}

// The profile's categories and its public part (categories.js); not there until the synced vault is open.
async function loadData() {
  if (status.vaultNeedsPassphrase) return;
  await loadCategories();
  await loadPublic(status);
}

watchPublic(() => loadPublic(status));
showInstallCommand();
$("#check-again").addEventListener("click", async () => {
  $("#check-result").textContent = "Checking…";
  await load();
  $("#check-result").textContent = $("#host-missing").hidden ? "" : "Still not found.";
});

$("#ledger-more").addEventListener("click", () => showOlder().catch((e) => banner(e.message)));

$("#lock").addEventListener("click", async () => {
  await ask("lock").catch((e) => banner(e.message));
  await load();
});

$("#unlock-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    await ask("unlock", { passphrase: $("#passphrase").value });
    $("#passphrase").value = "";
    say("#status-error", null);
    await load();
  } catch (e) {
    say("#status-error", unlockFailure(e));
  }
});

// Opening this page is the person's doing: it keeps an unlocked profile open.
ask("activity").catch(() => {});
load();
