// Filling forms, in every frame (isolated world): when the service worker asks, this describes
// the frame's form controls (open shadow roots included): what they are called, where they are,
// whether they can be seen, whether the person typed into them. It sets the values the worker's
// plan gives it, as typing does. It decides nothing: the worker's Rust classifies and plans.
(() => {
  if (globalThis.__personalProfileFill) return;
  globalThis.__personalProfileFill = true;

  const CONTROLS = "input, select, textarea";
  const HEADINGS = "h1, h2, h3, h4, h5, h6, [role=heading], legend";
  // Controls the person typed into or picked from: trusted events only, so a page's own scripts
  // cannot make a value count as the person's.
  const typed = new WeakSet();
  // Controls the last fill set.
  const ours = new WeakSet();
  // The controls of the last description, by index: a plan names them so.
  let described = [];

  const onTrusted = (event) => {
    if (!event.isTrusted) return;
    const target = event.composedPath()[0];
    if (target instanceof Element) {
      typed.add(target);
      ours.delete(target);
    }
  };
  function listen(on) {
    for (const type of ["input", "change"]) {
      if (on) addEventListener(type, onTrusted, true);
      else removeEventListener(type, onTrusted, true);
    }
  }
  listen(true);

  const clip = (text, max = 120) => (text || "").replace(/\s+/g, " ").trim().slice(0, max);

  // The text of a node, leaving out what controls and scripts hold (a label wrapping a select
  // would otherwise carry every option's text). A plain walk over the child nodes: a TreeWalker
  // calls its filter across the JS boundary for every node, which cost more than the rest of a
  // label's description.
  const UNREAD = /^(SELECT|OPTION|TEXTAREA|SCRIPT|STYLE|INPUT|BUTTON)$/;
  function textOf(node, max = 120) {
    let text = "";
    const read = (parent) => {
      for (let n = parent.firstChild; n && text.length < max * 2; n = n.nextSibling) {
        if (n.nodeType === Node.TEXT_NODE) text += ` ${n.data}`;
        else if (n.nodeType === Node.ELEMENT_NODE && !UNREAD.test(n.tagName)) read(n);
      }
    };
    read(node);
    return clip(text, max);
  }

  // Each control's labels, as `el.labels` gives them (the labels of its tree whose control it
  // is), found once per description for each tree: `el.labels` walks the whole tree each time it
  // is read, which made a long form quadratic.
  let labelMaps = new Map();
  function labelsOf(el) {
    const root = el.getRootNode();
    let labels = labelMaps.get(root);
    if (!labels) {
      labels = new Map();
      for (const label of root.querySelectorAll("label")) {
        const control = label.control;
        if (!control) continue;
        if (labels.has(control)) labels.get(control).push(label);
        else labels.set(control, [label]);
      }
      labelMaps.set(root, labels);
    }
    return labels.get(el) || [];
  }

  function labelOf(el) {
    const parts = [];
    for (const label of labelsOf(el)) parts.push(textOf(label));
    const ids = (el.getAttribute("aria-labelledby") || "").split(/\s+/).filter(Boolean);
    const root = el.getRootNode();
    for (const id of ids) {
      const by = root.getElementById ? root.getElementById(id) : document.getElementById(id);
      if (by) parts.push(textOf(by));
    }
    return clip(parts.join(" "));
  }

  // Text just before a control with no label: a table cell or a span beside it.
  function nearOf(el) {
    let node = el;
    for (let depth = 0; node && depth < 3; depth++, node = node.parentElement) {
      for (let sibling = node.previousElementSibling; sibling; sibling = sibling.previousElementSibling) {
        if (sibling.matches(CONTROLS) || sibling.querySelector(CONTROLS)) break;
        const text = textOf(sibling, 60);
        if (text) return text;
      }
    }
    return "";
  }

  // The box of each ancestor that clips what overflows it (null for one that does not), kept for
  // one description: many controls share their ancestors.
  let clips = new Map();
  const clipOf = (node) => {
    if (!clips.has(node)) {
      const style = getComputedStyle(node);
      clips.set(node, style.overflow === "visible" && style.clipPath === "none" ? null : node.getBoundingClientRect());
    }
    return clips.get(node);
  };

  // Whether an ancestor that clips its overflow leaves nothing of the element to see.
  function clipped(el, rect) {
    for (let node = el.parentElement; node && node !== document.body; node = node.parentElement) {
      const box = clipOf(node);
      if (box && (rect.right <= box.left || rect.left >= box.right || rect.bottom <= box.top || rect.top >= box.bottom)) return true;
    }
    return false;
  }

    // How opaque an element is with every ancestor's opacity applied (cached per description):
  // a field at 1% opacity is as unseen as one at none.
  let opacities = new Map();
  function opacityOf(node) {
    if (!node || node.nodeType !== 1) return 1;
    let found = opacities.get(node);
    if (found === undefined) {
      const parent = node.parentElement || (node.getRootNode() && node.getRootNode().host) || null;
      found = Number(getComputedStyle(node).opacity) * opacityOf(parent);
      opacities.set(node, found);
    }
    return found;
  }

  // How an element looks: style facts, its box in document coordinates, and whether another
  // element is on top of its centre.
  function look(el) {
    const style = [];
    if (el.hidden || (el.tagName === "INPUT" && el.type === "hidden")) style.push("hidden");
    // One call answers for a control that can be seen; only one that cannot is asked why.
    if (!el.checkVisibility({ visibilityProperty: true, opacityProperty: true })) {
      if (!el.checkVisibility()) style.push("display");
      else {
        if (!el.checkVisibility({ visibilityProperty: true })) style.push("visibility");
        if (!el.checkVisibility({ opacityProperty: true })) style.push("opacity");
      }
    }
        if (!style.length && opacityOf(el) < 0.1) style.push("opacity");
    if (el.closest("[inert]")) style.push("inert");
    const r = el.getBoundingClientRect();
    let covered = false;
    const [x, y] = [r.left + r.width / 2, r.top + r.height / 2];
    if (!style.length && r.width >= 2 && r.height >= 2) {
      if (x >= 0 && y >= 0 && x < innerWidth && y < innerHeight) {
        const root = el.getRootNode();
        const hit = (root.elementFromPoint ? root : document).elementFromPoint(x, y);
        const labels = labelsOf(el);
        covered = !!hit && hit !== el && !el.contains(hit) && !hit.contains(el) && !labels.some((l) => l.contains(hit));
      } else {
        covered = clipped(el, r);
      }
    }
    return { style, rect: [r.left + scrollX, r.top + scrollY, r.width, r.height], covered };
  }

  // The elements of a document in order, with those of open shadow roots where their host is.
  function* walk(root) {
    for (const el of root.querySelectorAll("*")) {
      yield el;
      if (el.shadowRoot) yield* walk(el.shadowRoot);
    }
  }

  // Whether a container holds a button, kept for one description: loose controls share their
  // containers.
  let buttons = new Map();
  const holdsButton = (node) => {
    if (!buttons.has(node)) buttons.set(node, !!node.querySelector("button, input[type=submit], input[type=button]"));
    return buttons.get(node);
  };

  // The form a control belongs to: its <form>, or the nearest container with a button.
  function formOf(el) {
    if (el.form) return el.form;
    for (let node = el.parentElement, depth = 0; node && depth < 6; node = node.parentElement, depth++) {
      if (holdsButton(node)) return node;
    }
    return el.getRootNode() === document ? document.body : el.getRootNode().host || document.body;
  }

  function contextOf(form) {
    const parts = ["id", "name", "class", "action", "role", "aria-label"].map((a) => form.getAttribute && form.getAttribute(a));
    if (form.closest && form.closest("[role=search]")) parts.push("search");
    const buttons = form.querySelectorAll ? [...form.querySelectorAll("button, input[type=submit]")].slice(0, 4) : [];
    for (const button of buttons) parts.push(button.value || textOf(button, 40) || clip(button.textContent, 40));
    return clip(parts.filter(Boolean).join(" "), 300);
  }

  // A control's description without its empty texts, false facts and empty lists: the worker
  // reads a missing key as empty, and a long form's message is half as long without them.
  function lean(control) {
    const kept = {};
    for (const key in control) {
      const value = control[key];
      if (value !== "" && value !== false && !(Array.isArray(value) && !value.length)) kept[key] = value;
    }
    return kept;
  }

  function describe() {
    const controls = [];
    const frames = [];
    const forms = new Map();
    const fieldsets = new Map();
    let heading = "";
    let headingKey = 0;
    let legends = 0;
    described = [];
        clips = new Map();
    opacities = new Map();
    labelMaps = new Map();
    buttons = new Map();
    for (const el of walk(document)) {
      if (el.matches(HEADINGS) && !el.closest("fieldset")) {
        heading = textOf(el, 80);
        headingKey++;
        continue;
      }
      if (el.tagName === "IFRAME" || el.tagName === "FRAME") {
        // Its document says which frame it is by its URL (the browser's, in the worker).
        frames.push({ src: el.src || "about:blank", ...look(el) });
        continue;
      }
      if (!el.matches(CONTROLS)) continue;
      const type = el.tagName === "INPUT" ? el.type : "";
      if (/^(submit|button|reset|image|checkbox|radio|file|range|color)$/.test(type)) continue;
      const form = formOf(el);
      if (!forms.has(form)) forms.set(form, forms.size);
      const fieldset = el.closest("fieldset");
      let group = heading;
      let groupKey = headingKey;
      if (fieldset) {
        // Its legend's text and key, read once for all its controls.
        if (!fieldsets.has(fieldset)) {
          const legend = fieldset.querySelector("legend");
          fieldsets.set(fieldset, legend && { key: 100000 + legends++, text: textOf(legend, 80) });
        }
        const legend = fieldsets.get(fieldset);
        if (legend) ({ key: groupKey, text: group } = legend);
      }
      const label = labelOf(el);
      const control = {
        tag: el.tagName.toLowerCase(),
        type,
        name: el.getAttribute("name") || "",
        id: el.id || "",
        autocomplete: el.getAttribute("autocomplete") || "",
        label,
        placeholder: el.getAttribute("placeholder") || "",
        ariaLabel: el.getAttribute("aria-label") || "",
        near: label || el.getAttribute("aria-label") || el.getAttribute("placeholder") ? "" : nearOf(el),
        group,
        groupKey,
        form: forms.get(form),
        maxLength: el.maxLength > 0 ? el.maxLength : 0,
        empty: el.tagName === "SELECT" ? el.selectedIndex < 0 || el.value === "" : el.value === "",
        // A value nobody typed and no fill set: the page's own (a default, a "00000").
        prefilled: el.value !== "" && !typed.has(el) && !ours.has(el),
        typed: typed.has(el),
        ours: ours.has(el),
        disabled: el.disabled || el.readOnly === true,
        ...look(el),
      };
      if (el.tagName === "SELECT") {
        control.options = [...el.options].slice(0, 400).map((o) => ({ value: o.value, text: clip(o.text, 80) }));
        control.selected = el.selectedIndex;
      }
      controls.push(lean(control));
      described.push(el);
    }
    return {
      lang: document.documentElement.lang || "",
      controls,
      forms: [...forms.keys()].map((form) => ({ context: contextOf(form) })),
      frames,
      document: [document.documentElement.scrollWidth, document.documentElement.scrollHeight],
      viewport: [innerWidth, innerHeight],
    };
  }

  const BUBBLES = { bubbles: true };
  const COMPOSED = { bubbles: true, composed: true };
  const setters = {
    INPUT: Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value").set,
    TEXTAREA: Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, "value").set,
    SELECT: Object.getOwnPropertyDescriptor(HTMLSelectElement.prototype, "selectedIndex").set,
  };

  // Sets one value as typing does: through the element's own setter (so React's and Vue's value
  // trackers see a change), with the events a person's typing sends.
  function set(el, step) {
    el.dispatchEvent(new FocusEvent("focus"));
    el.dispatchEvent(new FocusEvent("focusin", COMPOSED));
    if (el.tagName === "SELECT") setters.SELECT.call(el, step.option);
    else setters[el.tagName].call(el, step.text);
    el.dispatchEvent(new Event("input", COMPOSED));
    el.dispatchEvent(new Event("change", BUBBLES));
    el.dispatchEvent(new FocusEvent("blur"));
    el.dispatchEvent(new FocusEvent("focusout", COMPOSED));
    ours.add(el);
  }

  // Resolves once the page has stopped changing the DOM for `quietMs` (at most `maxMs`), or once
  // the awaited selects have new options and then gone quiet: a region list that loads after the
  // country is chosen.
  function settled(awaited, quietMs = 200, maxMs = 3000) {
    return new Promise((resolve) => {
      const sizes = awaited.map((el) => el.options.length);
      const waiting = () => awaited.some((el, i) => el.isConnected && el.options.length === sizes[i]);
      let quiet;
      const done = () => {
        observer.disconnect();
        clearTimeout(quiet);
        clearTimeout(limit);
        resolve();
      };
      const observer = new MutationObserver(() => {
        clearTimeout(quiet);
        if (!waiting()) quiet = setTimeout(done, quietMs);
      });
      observer.observe(document, { subtree: true, childList: true, attributes: true });
      const limit = setTimeout(done, maxMs);
      if (!waiting()) quiet = setTimeout(done, quietMs);
    });
  }

  async function fill(plan) {
    const filled = [];
    const started = performance.now();
    // Nothing the person does can arrive while this loop holds the thread, so the listeners for
    // their typing are off meanwhile: every value's own untrusted events would call them, a
    // quarter of the loop's time on a long form.
    listen(false);
    try {
      for (const step of plan.steps) {
        const el = described[step.i];
        if (!el || !el.isConnected || typed.has(el)) continue;
        if (el.tagName === "SELECT" && !(step.option >= 0 && step.option < el.options.length)) continue;
        set(el, step);
        filled.push(step.i);
      }
    } finally {
      listen(true);
    }
    const ms = performance.now() - started;
    if (!plan.settle) return { filled, ms };
    await settled((plan.awaitOptions || []).map((i) => described[i]).filter((el) => el && el.tagName === "SELECT"));
    return { filled, ms, description: describe() };
  }

  chrome.runtime.onMessage.addListener((message, sender, sendResponse) => {
    if (sender.id !== chrome.runtime.id || !message) return false;
    if (message.fillDescribe) {
      const started = performance.now();
      const description = describe();
      // How long describing took, for the benchmark.
      description.ms = performance.now() - started;
      chrome.runtime.sendMessage({ fillDescribed: { scan: message.fillDescribe, description } }).catch(() => {});
      return false;
    }
    if (message.fillSteps) {
      fill(message.fillSteps).then(sendResponse, () => sendResponse({ filled: [] }));
      return true;
    }
    return false;
  });
})();
