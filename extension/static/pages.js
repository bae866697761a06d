// Shared by the options page and the toolbar popup: the extension's own requests go through
// the service worker (which checks them in Rust) to the host.
export const $ = (selector) => document.querySelector(selector);

export async function ask(type, params = {}) {
  const settlement = await chrome.runtime.sendMessage({ own: { type, params } });
  if (settlement && settlement.status === "resolved") return settlement.value;
  const error = new Error((settlement && settlement.message) || "the extension did not answer");
  error.code = (settlement && settlement.code) || "internal";
  throw error;
}

export const KIND_LABELS = {
  profileUrl: "Profile URL",
  deviceId: "Device id",
  shippingAddress: "Shipping address",
  billingAddress: "Billing address",
  login: "Log in",
};

export const METHOD_LABELS = {
  getProfileUrl: "Profile URL",
  getDeviceId: "Device id",
  getAddress: "Address",
  signUp: "Sign up",
  login: "Log in",
};

export const when = (seconds) =>
  new Date(seconds * 1000).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });

// Builds an element: el("td", {className: "x"}, "text", child…). Text is never parsed as HTML.
export function el(tag, props = {}, ...children) {
  const element = Object.assign(document.createElement(tag), props);
  element.append(...children.filter((child) => child !== null && child !== undefined));
  return element;
}

export const hostDown = (error) => error.code === "host_unavailable";
