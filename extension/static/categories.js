// The profile's categories on the options page. Each section lists its items (newest first, a
// page at a time; receipts and medical events searchable) and adds, edits and removes them with
// a form drawn from the category's definition, which the host sends with the list: profile-core
// defines every category once, and the host checks every item it saves against it. Identity is
// one form. The public profile chooses what anyone who opens the profile URL sees. Glue only:
// nothing here decides what is valid or what leaves.
import { ask, el, siteOf } from "./pages.js";

// The sections, in the order of the page, by category name.
export const CATEGORIES = ["identity", "receipts", "medical", "devices", "bookmarks", "contacts", "vehicles"];
const SEARCHABLE = new Set(["receipts", "medical"]);
const PAGE = 20;

// The definition of each category, as the host last sent it.
const definitions = new Map();
// What each list section shows: its query and how many items are on the page.
const lists = new Map();

const section = (category) => document.getElementById(`cat-${category}`);
const idFor = (...parts) => parts.join("-").replace(/[^A-Za-z0-9_-]/g, "-");

// ---- values as people read them -----------------------------------------------------------------

// A date field (`YYYY-MM-DD`) as the person's locale writes it, without a time zone shift.
function dateText(value) {
  const [y, m, d] = String(value).split("-").map(Number);
  if (!y || !m || !d) return String(value);
  return new Date(y, m - 1, d).toLocaleDateString(undefined, { dateStyle: "medium" });
}

function money(amount, currency) {
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency }).format(Number(amount));
  } catch {
    return `${amount} ${currency || ""}`.trim();
  }
}

// One field's value in a line of text.
function shownValue(field, value, fields) {
  if (value === undefined || value === null || value === "") return null;
  switch (field.kind.type) {
    case "date": return dateText(value);
    case "amount": return fields.currency ? money(value, fields.currency) : String(value);
    case "tags": return value.join(", ");
    case "list": return value.length === 1 ? `1 ${field.label.toLowerCase()}` : `${value.length} ${field.label.toLowerCase()}`;
    case "json": case "publicKey": return null;
    default: return String(value);
  }
}

// How many of the summary's first fields make an item's title ("Volvo XC40"); one elsewhere.
const TITLE_FIELDS = { vehicles: 2 };

// An item's title and the line under it, from the definition's summary fields: the first that
// holds something names it, the rest follow ("Corner Shop" / "2 Nov 2026 · €12.50").
function summary(definition, item) {
  const byName = new Map(definition.fields.map((f) => [f.name, f]));
  const parts = definition.summary
    .filter((name) => !(name === "currency" && definition.summary.includes("total")))
    .map((name) => byName.get(name) && shownValue(byName.get(name), item.fields[name], item.fields))
    .filter(Boolean);
  const titled = parts.splice(0, TITLE_FIELDS[definition.name] || 1).join(" ");
  const [title, rest] = [titled || `Untitled ${definition.noun}`, parts];
  if (item.source) rest.push(`from ${siteOf(item.source)}`);
  return { title, sub: rest.join(" · ") };
}

// An item an app added, in one line as its category's list writes it ("Corner Shop · 1 Dec 2026
// · €5.29"), from the fields that name it; `null` until the category's definition is here.
export function itemLine(category, fields) {
  const definition = definitions.get(category);
  if (!definition) return null;
  const { title, sub } = summary(definition, { fields });
  return sub ? `${title} · ${sub}` : title;
}

// ---- forms drawn from a definition --------------------------------------------------------------

// One field's control, for the value `value` (as the host keeps it).
function control(field, value, id) {
  const kind = field.kind;
  const common = { id, name: field.name, required: field.required };
  switch (kind.type) {
    case "text":
      return el("textarea", { ...common, rows: 3, maxLength: kind.max, value: value || "" });
    case "json":
    case "publicKey":
      return el("textarea", { ...common, rows: 4, className: "mono", spellcheck: false,
        value: value == null ? "" : typeof value === "string" ? value : JSON.stringify(value, null, 2) });
    case "choice":
      return el("select", common, el("option", { value: "" }, field.required ? "Choose…" : "None"),
        ...kind.options.map((option) => el("option", { value: option, selected: option === value }, option)));
    case "date":
      return el("input", { ...common, type: "date", value: value || "" });
    case "number":
      return el("input", { ...common, type: "number", min: kind.min, max: kind.max, step: 1, value: value ?? "" });
    case "url":
      return el("input", { ...common, type: "url", placeholder: "https://…", value: value || "" });
    case "email":
      return el("input", { ...common, type: "email", value: value || "" });
    case "tags":
      return el("input", { ...common, value: (value || []).join(", ") });
    case "amount":
      return el("input", { ...common, inputMode: "decimal", value: value || "" });
    case "currency":
      return el("input", { ...common, maxLength: 3, placeholder: "EUR", className: "short upper", value: value || "" });
    case "language":
      return el("input", { ...common, placeholder: "en, pt-BR", className: "short", value: value || "" });
    default:
      return el("input", { ...common, maxLength: kind.max || 200, spellcheck: kind.type === "line", value: value ?? "" });
  }
}

const HINTS = { tags: "separated by commas", json: "JSON", publicKey: "a P-256 public key as a JWK", language: "a language tag" };

// A field with its label (and whether it is required); a list field as repeatable rows.
function formField(field, value, prefix) {
  if (field.kind.type === "list") return listField(field, value || [], prefix);
  const id = idFor(prefix, field.name);
  const wide = ["text", "json", "publicKey"].includes(field.kind.type);
  return el("label", { className: wide ? "field wide" : "field", htmlFor: id },
    el("span", {}, field.label, field.required ? el("span", { className: "req" }, " (required)") : null,
      HINTS[field.kind.type] ? el("span", { className: "hint" }, ` · ${HINTS[field.kind.type]}`) : null),
    control(field, value, id));
}

// A list field (a receipt's items, a contact's lines): a row of its fields per entry, a button
// to add one and one to remove each.
function listField(field, values, prefix) {
  const rows = el("div", { className: "list-rows" });
  const singular = field.name === "items" ? "item" : field.name === "lines" ? "way to reach them" : "entry";
  let next = 0;
  const addRow = (value) => {
    const n = next++;
    const row = el("div", { className: "list-row" });
    row.append(...field.kind.fields.map((sub) => formField(sub, value && value[sub.name], idFor(prefix, field.name, n))),
      el("button", { type: "button", className: "quiet small remove-row", ariaLabel: `Remove this ${singular}`,
        onclick: () => row.remove() }, "Remove"));
    rows.append(row);
    return row;
  };
  values.forEach(addRow);
  const add = el("button", { type: "button", className: "small add-row", onclick: () => {
    if (rows.children.length >= field.kind.max) return;
    const row = addRow(null);
    row.querySelector("input, select, textarea").focus();
  } }, `Add ${singular}`);
  const set = el("fieldset", { className: "list-field wide" }, el("legend", {}, field.label), rows, el("div", {}, add));
  set.dataset.list = field.name;
  return set;
}

// The values in `container` (a form, or one row of a list field) as the host takes them: text
// as typed (trimmed), empty fields left out, a list field as its rows that hold something.
function collect(container, defs) {
  const row = container.classList.contains("list-row") ? container : null;
  const values = {};
  for (const field of defs) {
    if (field.kind.type === "list") {
      const set = [...container.querySelectorAll("fieldset[data-list]")].find((s) => s.dataset.list === field.name);
      const entries = set ? [...set.querySelectorAll(".list-row")].map((r) => collect(r, field.kind.fields)) : [];
      const kept = entries.filter((entry) => Object.keys(entry).length);
      if (kept.length) values[field.name] = kept;
      continue;
    }
    const input = [...container.querySelectorAll(`[name="${field.name}"]`)].find((i) => i.closest(".list-row") === row);
    const value = input ? input.value.trim() : "";
    if (value) values[field.name] = value;
  }
  return values;
}

// The host's refusal of a form (`` `items[0].gtin` (Barcode) `40…`: its check digit is wrong ``)
// in words ("Items, row 1, Barcode: “40…”: its check digit is wrong"), with the field it names
// marked and focused.
function refused(form, definition, error, message) {
  for (const marked of form.querySelectorAll("[aria-invalid]")) marked.removeAttribute("aria-invalid");
  const named = /^`([A-Za-z]+)(?:\[(\d+)\]\.([A-Za-z]+))?` \((.*?)\) (.*)$/.exec(message);
  let said = message;
  if (named) {
    const [, name, row, sub, label, why] = named;
    let input = [...form.querySelectorAll(`[name="${name}"]`)].find((i) => !i.closest(".list-row"));
    let where = label;
    if (sub) {
      const list = definition.fields.find((f) => f.name === name);
      const rows = form.querySelectorAll(`fieldset[data-list="${name}"] .list-row`);
      input = rows[Number(row)] && rows[Number(row)].querySelector(`[name="${sub}"]`);
      where = `${list ? list.label : name}, row ${Number(row) + 1}, ${label}`;
    }
    // "Date is required"; "Barcode: “40…”: its check digit is wrong".
    said = `${where}${why.startsWith("`") ? ": " : " "}${why.replace(/`([^`]*)`/g, "“$1”")}`;
    if (input) {
      input.setAttribute("aria-invalid", "true");
      input.focus();
    }
  }
  error.textContent = said;
  error.hidden = false;
}

// The form for a new item (`item` null) or a saved one.
function editor(category, definition, item, onDone) {
  const prefix = idFor(category, item ? item.id : "new");
  const error = el("p", { className: "error", role: "alert", hidden: true });
  const title = item ? `Edit ${definition.noun}` : `New ${definition.noun}`;
  const form = el("form", { className: "item-form", id: `form-${prefix}` },
    el("h3", {}, title),
    el("div", { className: "form-grid" }, ...definition.fields.map((f) => formField(f, item && item.fields[f.name], prefix))),
    error,
    el("div", { className: "buttons" },
      item ? el("button", { type: "button", className: "small danger remove", onclick: () => removeItem(category, definition, item) },
        `Remove ${definition.noun}`) : null,
      el("button", { type: "button", onclick: onDone }, "Cancel"),
      el("button", { type: "submit", className: "primary" }, `Save ${definition.noun}`)));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const fields = collect(form, definition.fields);
    try {
      await ask("saveItem", { category, item: item ? { id: item.id, fields } : { fields } });
      onDone();
      await showList(category);
    } catch (e) {
      refused(form, definition, error, e.message);
    }
  });
  return form;
}

// ---- identity: one form -------------------------------------------------------------------------

function showIdentity(list) {
  const definition = list.definition;
  const item = list.items[0] || { fields: {} };
  const card = section("identity");
  const status = el("span", { className: "status-line", role: "status" });
  const error = el("p", { className: "error", role: "alert", hidden: true });
  const form = el("form", { className: "item-form", id: "form-identity" },
    el("div", { className: "form-grid" }, ...definition.fields.map((f) => formField(f, item.fields[f.name], "identity"))),
    error,
    el("div", { className: "buttons" }, status, el("button", { type: "submit", className: "primary" }, "Save")));
  form.addEventListener("input", () => (status.textContent = ""));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await ask("saveItem", { category: "identity", item: { fields: collect(form, definition.fields) } });
      error.hidden = true;
      status.textContent = "Saved.";
    } catch (e) {
      refused(form, definition, error, e.message);
    }
  });
  card.querySelector(".category-body").replaceChildren(form);
}

// ---- the lists ----------------------------------------------------------------------------------

async function removeItem(category, definition, item) {
  const { title } = summary(definition, item);
  if (!confirm(`Remove the ${definition.noun} “${title}”? It is removed on all your devices.`)) return;
  try {
    await ask("removeItem", { category, id: item.id });
  } catch (e) {
    alert(e.message);
  }
  await showList(category);
}

// A contact that follows a profile URL: "Following https://… · Bob · updated 2 Dec 2026, 10:14",
// or why what it publishes was not taken.
function followingLine(following) {
  if (!following) return null;
  const parts = [`Following ${following.profileUrl}`];
  const name = following.fields && following.fields.displayName;
  if (typeof name === "string" && name) parts.push(name);
  if (following.fetchedAt) parts.push(`updated ${new Date(following.fetchedAt * 1000).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" })}`);
  else if (!following.problem) parts.push("not read yet");
  if (following.problem) parts.push(following.problem);
  return el("div", { className: "sub following" }, parts.join(" · "));
}

function itemRow(category, definition, item, following) {
  const { title, sub } = summary(definition, item);
  const row = el("li", { className: "item", id: idFor("item", category, item.id) });
  row.dataset.id = item.id;
  const view = el("div", { className: "item-view" },
    el("div", { className: "grow" }, el("div", { className: "title" }, title), sub ? el("div", { className: "sub" }, sub) : null,
      followingLine(following)),
    el("button", { type: "button", className: "small edit", ariaLabel: `Edit ${title}`, onclick: () => {
      const form = editor(category, definition, item, () => { form.remove(); view.hidden = false; });
      view.hidden = true;
      row.append(form);
      form.querySelector("input, select, textarea").focus();
    } }, "Edit"));
  row.append(view);
  return row;
}

// Draws a list section from its first page (`more`: appends the next page instead).
async function showList(category, more = false) {
  const state = lists.get(category) || { query: "", shown: 0 };
  lists.set(category, state);
  const offset = more ? state.shown : 0;
  const params = { category, offset, limit: PAGE };
  if (state.query) params.query = state.query;
  const list = await ask("listItems", params);
  if (category === "identity") {
    definitions.set(category, list.definition);
    showIdentity(list);
    return list;
  }
  const definition = list.definition;
  definitions.set(category, definition);
  const card = section(category);
  const items = card.querySelector("ul.items");
  const rows = list.items.map((item) => itemRow(category, definition, item, list.following && list.following[item.id]));
  if (more) items.append(...rows);
  else items.replaceChildren(...rows);
  state.shown = offset + list.items.length;
  const empty = card.querySelector(".empty");
  empty.textContent = state.query ? `No ${definition.noun}s hold “${state.query}”.` : `No ${definition.noun}s yet.`;
  empty.hidden = list.total > 0;
  const more_ = card.querySelector("button.more");
  more_.hidden = state.shown >= list.total;
  more_.textContent = `Show more (${list.total - state.shown} left)`;
  const count = card.querySelector(".count");
  count.textContent = list.total ? `${list.total.toLocaleString()} ${list.total === 1 ? definition.noun : `${definition.noun}s`}` : "";
  card.querySelector(".about").textContent = definition.about;
  card.querySelector("button.add").textContent = `Add ${definition.noun}`;
  if (card.querySelector("input.search")) card.querySelector("input.search").placeholder = `Search ${definition.title.toLowerCase()}`;
  return list;
}

// Builds a list section's controls once: search (receipts, medical), add, the list, more.
function buildList(category) {
  const card = section(category);
  const body = card.querySelector(".category-body");
  const slot = el("div", { className: "editor-slot" });
  const add = el("button", { type: "button", className: "primary small add" }, "Add");
  add.addEventListener("click", () => {
    const definition = definitions.get(category);
    if (!definition || slot.firstChild) return;
    const form = editor(category, definition, null, () => { form.remove(); add.hidden = false; });
    add.hidden = true;
    slot.append(form);
    form.querySelector("input, select, textarea").focus();
  });
  const tools = el("div", { className: "category-tools" });
  if (SEARCHABLE.has(category)) {
    const search = el("input", { type: "search", className: "search", ariaLabel: `Search ${category}` });
    let timer = null;
    search.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        lists.set(category, { query: search.value.trim(), shown: 0 });
        showList(category).catch(() => {});
      }, 250);
    });
    tools.append(search);
  }
  tools.append(el("span", { className: "count grow" }), add);
  const more = el("button", { type: "button", className: "more", hidden: true });
  more.addEventListener("click", () => showList(category, true).catch(() => {}));
  body.replaceChildren(tools, slot, el("ul", { className: "rows items" }), el("p", { className: "empty", hidden: true }),
    el("div", { className: "buttons" }, more));
}

let built = false;

// Loads every category's section; answers the definitions by name.
export async function loadCategories() {
  if (!built) {
    for (const category of CATEGORIES) if (category !== "identity") buildList(category);
    built = true;
  }
  await Promise.all(CATEGORIES.map((category) => showList(category)));
  return definitions;
}

// ---- the public profile -------------------------------------------------------------------------

// The fields the public part may publish, in words: identity's publishable fields, and the
// vehicles' publishable fields (never their VIN or plate).
function publishable() {
  const identity = definitions.get("identity");
  const vehicles = definitions.get("vehicles");
  const fields = identity ? identity.fields.filter((f) => f.publishable).map((f) => ({ name: f.name, label: f.label })) : [];
  if (vehicles) {
    // "VIN" stays as it is written; "Plate" reads as "plate" inside a sentence.
    const word = (label) => (label === label.toUpperCase() ? label : label.toLowerCase());
    const said = (labels, last) => (labels.length > 1 ? `${labels.slice(0, -1).join(", ")} ${last} ${labels.at(-1)}` : labels.join(""));
    const shown = vehicles.fields.filter((f) => f.publishable).map((f) => word(f.label));
    const kept = vehicles.fields.filter((f) => !f.publishable).map((f) => word(f.label));
    fields.push({ name: "vehicles", label: "Your vehicles", detail: `${said(shown, "and")}; never the ${said(kept, "or")}` });
  }
  return fields;
}

// What is published, field by field, in words.
function publishedList(published, fields) {
  const rows = [];
  for (const field of fields) {
    const value = published[field.name];
    if (value === undefined) continue;
    const said = Array.isArray(value)
      ? value.map((v) => [v.make, v.model, v.year].filter(Boolean).join(" ") + (v.keyId ? ` (key ${v.keyId})` : "")).join("; ")
      : String(value);
    rows.push(el("dt", {}, field.label), el("dd", {}, said));
  }
  return el("dl", { className: "facts" }, ...rows);
}

// Draws the public profile section from `getPublic` (the chosen fields and what is published)
// and the device's status (its profile URL, when paired).
export async function loadPublic(status) {
  const part = await ask("getPublic");
  const fields = publishable();
  const boxes = fields.map((field) => {
    const box = el("input", { type: "checkbox", id: `public-${field.name}`, checked: part.fields.includes(field.name) });
    box.dataset.field = field.name;
    return el("label", { className: "check", htmlFor: box.id }, box,
      el("span", {}, el("span", { className: "title" }, field.label), field.detail ? el("span", { className: "sub" }, ` (${field.detail})`) : null));
  });
  document.getElementById("public-fields").replaceChildren(
    el("legend", {}, "Publish"), ...boxes);
  const url = status && status.profileUrl;
  const now = document.getElementById("public-now");
  const published = part.published && Object.keys(part.published).length ? part.published : null;
  if (!url) {
    now.replaceChildren(...[el("h3", {}, "What anyone sees"),
      el("p", { className: "muted" }, "Nothing: this device is not paired with a profile server, so you have no profile URL yet."),
      part.fields.length ? el("p", { className: "small muted" }, "Once you pair, what you ticked is published there.") : null].filter(Boolean));
  } else {
    now.replaceChildren(...[el("h3", {}, "What anyone who opens ", el("code", {}, url), " sees"),
      published ? publishedList(published, fields) : el("p", { className: "muted" }, "Nothing: your profile URL shows no details about you."),
      part.pending ? el("p", { className: "small muted" }, "Your latest choice is not on your profile server yet: it is published at the next sync.") : null].filter(Boolean));
  }
  document.body.dataset.publicLoaded = "true";
}

export function watchPublic(reload) {
  document.getElementById("public-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = [...document.querySelectorAll("#public-fields input:checked")].map((box) => box.dataset.field);
    const status = document.getElementById("public-status");
    try {
      await ask("setPublic", { fields: chosen });
      status.textContent = chosen.length ? "Saved." : "Saved: nothing is public.";
      await reload();
    } catch (e) {
      status.textContent = e.message;
    }
  });
}

