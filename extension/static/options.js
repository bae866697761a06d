// The options page: shows what the host keeps and lets the person change it. Every change is
// an extension-own request, checked in Rust by the service worker and served by the host.
import { $, ask, el, hostDown, KIND_LABELS, METHOD_LABELS, when } from "./pages.js";

// An address's fields, from profile-core's one table (through the service worker's module):
// [{name, label, autocomplete, required, line}], in reading order.
const ADDRESS_FIELDS = await chrome.runtime.sendMessage({ addressFields: true });

// The address as people read it: fields that share a `line` joined by spaces.
function addressLines(address) {
  const lines = [];
  let last = null;
  for (const field of ADDRESS_FIELDS) {
    const value = address[field.name];
    if (!value) continue;
    if (field.line === last) lines[lines.length - 1] += ` ${value}`;
    else lines.push(value);
    last = field.line;
  }
  return lines;
}

// Shows `text` in a message element, or hides it when there is none.
function say(selector, text) {
  $(selector).textContent = text || "";
  $(selector).hidden = !text;
}

const banner = (text) => say("#banner", text);

function fill(tableId, rows, empty) {
  const body = $(`#${tableId} tbody`);
  const columns = $(`#${tableId} thead tr`).children.length;
  body.replaceChildren(
    ...(rows.length ? rows : [el("tr", {}, el("td", { colSpan: columns, className: "muted" }, empty))]),
  );
}

const cell = (...children) => el("td", {}, ...children);

async function loadStatus() {
  const status = await ask("status");
  $("#lock-state").textContent = status.locked ? "Locked"
    : status.vaultNeedsPassphrase ? "Waiting for the passphrase to open the synced vault"
      : status.passphraseSet ? "Unlocked" : "Unlocked (no passphrase set)";
  $("#paired").textContent = status.profileUrl || "Not paired: everything stays on this device";
  $("#host-version").textContent = `profile-host ${status.hostVersion}`;
  $("#lock-row").hidden = status.locked || !status.passphraseSet;
  $("#unlock-form").hidden = !status.locked && !status.vaultNeedsPassphrase;
  $("#vault-note").hidden = status.locked || !status.vaultNeedsPassphrase;
  $("#unlock").textContent = status.locked ? "Unlock" : "Open vault";
  $("#pair-row").hidden = status.paired || status.locked || !$("#pair-form").hidden;
  $("#unpair-row").hidden = !status.paired;
  say("#sync-halted", status.syncHalted ? syncHaltedText(status.syncHalted) : null);
  if (status.paired) $("#pair-form").hidden = true;
  return status;
}

// The profile server offered an older vault than this device had seen: it keeps its data and
// syncs no more until the person pairs again.
function syncHaltedText({ seenCounter, offeredCounter }) {
  const offered = offeredCounter < seenCounter
    ? `an older copy of your profile (version ${offeredCounter}) than this device has already seen (version ${seenCounter})`
    : `a different copy of your profile under a version this device has already seen (${seenCounter})`;
  return `Sync stopped: your profile server offered ${offered}. It may have been restored from a backup, or `
    + "tampered with. This device keeps everything and sends nothing more to it. To sync again, unpair this "
    + "device and pair it again: what it holds goes back into the server's copy.";
}

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

$("#show-pair").addEventListener("click", () => {
  setPairMode(false);
  say("#pair-error", null);
  $("#pair-form").hidden = false;
  $("#pair-row").hidden = true;
  $("#pair-url").focus();
});

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

function addressCard(kind, address) {
  const title = kind === "shipping" ? "Shipping" : "Billing";
  const card = el("article", { className: "address", id: `address-${kind}` });
  const lines = address ? addressLines(address) : [];
  const view = el(
    "div",
    {},
    el("h3", {}, title),
    lines.length ? el("p", { className: "lines" }, ...lines.flatMap((line) => [line, el("br")]).slice(0, -1))
      : el("p", { className: "muted" }, "None saved"),
    el("button", { type: "button", id: `edit-${kind}`, onclick: () => { view.hidden = true; form.hidden = false; form.elements[0].focus(); } },
      lines.length ? "Edit" : "Add"),
  );
  const error = el("p", { className: "error", role: "alert", hidden: true });
  const form = el(
    "form",
    { hidden: true, className: "address-form", id: `form-${kind}` },
    el("h3", {}, `${title} address`),
    ...ADDRESS_FIELDS.map(({ name, label, autocomplete, required }) =>
      el("label", {}, label, el("input", { name, value: (address && address[name]) || "", autocomplete, required })),
    ),
    error,
    el("div", { className: "row" },
      el("button", { type: "button", onclick: () => { form.hidden = true; view.hidden = false; } }, "Cancel"),
      el("button", { type: "submit", className: "primary" }, "Save")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const fields = Object.fromEntries(
      ADDRESS_FIELDS.map(({ name }) => [name, form.elements[name].value.trim()]).filter(([, value]) => value),
    );
    try {
      await ask("saveAddress", { kind, address: fields });
      await load();
    } catch (e) {
      error.textContent = e.message;
      error.hidden = false;
    }
  });
  card.append(view, form);
  return card;
}

const LEDGER_PAGE = 50;

function ledgerRow(d) {
  const times = d.count > 1 ? ` (${d.count.toLocaleString()} times, the last ${when(d.until)})` : "";
  return el("tr", { className: "entry" }, el("td", { className: "nowrap" }, when(d.at)),
    el("td", { className: "nowrap" }, new URL(d.origin).host),
    cell(METHOD_LABELS[d.method] || d.method), cell((d.fields.join(", ") || "nothing") + times),
    cell(el("span", { className: d.outcome === "disclosed" ? "ok" : "muted" }, d.outcome.replaceAll("_", " "))));
}

// The next page of the ledger, older than what is shown.
async function showOlder() {
  const shown = $("#ledger tbody").querySelectorAll("tr.entry").length;
  const older = await ask("listDisclosures", { limit: LEDGER_PAGE, offset: shown });
  $("#ledger tbody").append(...older.map(ledgerRow));
  $("#ledger-more").hidden = older.length < LEDGER_PAGE;
}

async function removeAccount(account) {
  const site = new URL(account.origin).host;
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

async function loadProfile() {
  const [addresses, accounts, grants, ledger] = await Promise.all([
    ask("listAddresses"),
    ask("listAccounts"),
    ask("listGrants"),
    ask("listDisclosures", { limit: LEDGER_PAGE }),
  ]);
  $("#addresses").replaceChildren(addressCard("shipping", addresses.shipping), addressCard("billing", addresses.billing));
  fill(
    "accounts",
    accounts.map((a) => el("tr", {}, cell(a.origin), cell(el("code", {}, a.accountGuid)), cell(when(a.createdAt)), cell(when(a.lastUsedAt)),
      cell(el("button", { type: "button", className: "revoke remove-account", onclick: () => removeAccount(a),
        ariaLabel: `Remove the account at ${new URL(a.origin).host}` }, "Remove")))),
    "No accounts yet.",
  );
  const bySite = new Map();
  for (const grant of grants) {
    const key = grant.origin + (grant.topOrigin ? ` inside ${grant.topOrigin}` : "");
    const entry = bySite.get(key) || { grant, kinds: [], since: grant.grantedAt };
    entry.kinds.push(KIND_LABELS[grant.kind] || grant.kind);
    entry.since = Math.min(entry.since, grant.grantedAt);
    bySite.set(key, entry);
  }
  fill(
    "grants",
    [...bySite].map(([site, { grant, kinds, since }]) =>
      el("tr", {}, cell(site), cell(kinds.join(", ")), cell(when(since)),
        cell(el("button", { type: "button", className: "revoke", onclick: () => revoke(grant.origin) }, "Forget"))),
    ),
    "No remembered permissions.",
  );
  fill("ledger", ledger.map(ledgerRow), "Nothing has been asked for yet.");
  $("#ledger-more").hidden = ledger.length < LEDGER_PAGE;
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
      const name = d.current ? [d.name, " ", el("span", { className: "muted" }, "(this device)")] : [d.name];
      const action = d.revokedAt !== null
        ? el("span", { className: "muted" }, `Signed out ${when(d.revokedAt)}`)
        : d.current
          ? null
          : el("button", { type: "button", className: "revoke", onclick: () => signOut(d.id) }, "Sign out");
      const date = (seconds) => el("td", { className: "nowrap" }, when(seconds));
      return el("tr", { className: d.revokedAt !== null ? "gone" : "" },
        cell(...name), date(d.createdAt), date(d.lastSeenAt), cell(action));
    }),
    "No devices listed.",
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

async function load() {
  try {
    banner(null);
    const status = await loadStatus();
    document.querySelectorAll(".card:not(#status-card)").forEach((card) => (card.hidden = status.locked));
    // Until the synced vault is open, its addresses and accounts are not here: "none saved" would mislead.
    for (const id of ["#addresses-card", "#accounts-card"]) $(id).hidden ||= status.vaultNeedsPassphrase;
    if (!status.locked) await Promise.all([loadProfile(), loadDevices(status.paired)]);
    document.body.dataset.loaded = "true";
  } catch (e) {
    banner(hostDown(e)
      ? "Personal Profile's host is not running or not installed. Install it with `profile-host install`, then reload this page."
      : e.message);
    document.body.dataset.loaded = "true";
  }
}

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
    say("#status-error", e.code === "auth_failed" ? "That passphrase is not right." : e.message);
  }
});

// Opening this page is the person's doing: it keeps an unlocked profile open.
ask("activity").catch(() => {});
load();
