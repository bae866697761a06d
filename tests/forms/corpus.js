// The fill corpus's own harness, loaded by every page of tests/forms/ (not part of the
// extension): it records the events each field receives, and answers `corpusReport()` with
// every field that carries `data-expect` (its expected value) in this document, its open shadow
// roots and its frames (asked by postMessage, so a frame of another origin answers too):
// `{path, expect, value, hidden, accepted, why}`. `accepted` says the page's own scripts took
// the value: the field saw `input` and `change` with it, and where the page keeps a model
// (`window.corpusModel()`, fields naming their key in `data-model`) the model holds it.
(() => {
  const seen = new WeakMap();
  const record = (event) => {
    const target = event.composedPath()[0];
    if (!(target instanceof Element)) return;
    const events = seen.get(target) || new Set();
    events.add(`${event.type}:${target.value}`);
    seen.set(target, events);
  };
  const listen = (root) => ["input", "change"].forEach((type) => root.addEventListener(type, record, true));
  listen(document);

  function* fields(root) {
    for (const el of root.querySelectorAll("*")) {
      if (el.shadowRoot) {
        if (!el.shadowRoot.__corpus) {
          el.shadowRoot.__corpus = true;
          listen(el.shadowRoot);
        }
        yield* fields(el.shadowRoot);
      }
      if (el.hasAttribute("data-expect")) yield el;
    }
  }
  // Shadow roots made after load are listened to as well.
  new MutationObserver(() => [...fields(document)]).observe(document, { subtree: true, childList: true });

  function own() {
    const model = typeof window.corpusModel === "function" ? window.corpusModel() : null;
    return [...fields(document)].map((el) => {
      const events = seen.get(el) || new Set();
      const value = el.value;
      let why = "";
      if (value !== "" && !events.has(`input:${value}`) && !events.has(`change:${value}`)) why = "no input or change event with the value";
      const key = el.getAttribute("data-model");
      if (key && model && String(model[key] ?? "") !== value) why = `the page's model holds ${JSON.stringify(model[key] ?? "")}`;
      return {
        path: `${location.host}${location.pathname} ${el.id || el.name}`,
        expect: el.getAttribute("data-expect"),
        value,
        hidden: el.hasAttribute("data-hidden"),
        accepted: why === "",
        why,
      };
    });
  }

  const asked = new Map();
  let next = 1;
  addEventListener("message", (event) => {
    const data = event.data || {};
    if (data.corpusAsk) {
      window.corpusReport().then((fields) => event.source.postMessage({ corpusAnswer: data.corpusAsk, fields }, "*"));
    } else if (data.corpusAnswer && asked.has(data.corpusAnswer)) {
      asked.get(data.corpusAnswer)(data.fields);
    }
  });

  window.corpusReport = async () => {
    const reports = [own()];
    for (const frame of document.querySelectorAll("iframe")) {
      const id = next++;
      reports.push(await new Promise((resolve) => {
        asked.set(id, resolve);
        setTimeout(() => resolve([]), 2000);
        frame.contentWindow.postMessage({ corpusAsk: id }, "*");
      }));
    }
    return reports.flat();
  };
})();
