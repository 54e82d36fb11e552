// A minimal SAMP Web Profile client in plain JavaScript, for minisamp's browser test.
// XML-RPC is written and read by hand (strings, arrays and structs are all SAMP has).
// Progress goes to window.samp (read by the test through the WebDriver) and the page.
"use strict";

const samp = { state: "starting", selfId: null, errors: [], rows: null };
window.samp = samp;
const hubUrl = new URLSearchParams(location.search).get("hub") || "http://127.0.0.1:21012/";

function log(text) {
  document.getElementById("log").textContent += text + "\n";
}

function setState(state) {
  samp.state = state;
  document.getElementById("state").textContent = state;
  log("state: " + state);
}

function escapeXml(text) {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function toXml(value) {
  if (typeof value === "string") {
    return "<value><string>" + escapeXml(value) + "</string></value>";
  }
  if (Array.isArray(value)) {
    return "<value><array><data>" + value.map(toXml).join("") + "</data></array></value>";
  }
  const members = Object.keys(value).map(
    (key) => "<member><name>" + escapeXml(key) + "</name>" + toXml(value[key]) + "</member>");
  return "<value><struct>" + members.join("") + "</struct></value>";
}

function childElements(element, name) {
  return Array.from(element.children).filter((child) => child.tagName === name);
}

function fromXml(valueElement) {
  const typed = valueElement.firstElementChild;
  if (typed === null) {
    return valueElement.textContent;  // <value>text</value> is a string too
  }
  if (typed.tagName === "array") {
    return childElements(childElements(typed, "data")[0], "value").map(fromXml);
  }
  if (typed.tagName === "struct") {
    const map = {};
    for (const member of childElements(typed, "member")) {
      const name = childElements(member, "name")[0].textContent;
      map[name] = fromXml(childElements(member, "value")[0]);
    }
    return map;
  }
  return typed.textContent;  // string, or a sloppy int/boolean/double
}

async function call(method, params) {
  const body = '<?xml version="1.0"?><methodCall><methodName>' + method +
    "</methodName><params>" + params.map((p) => "<param>" + toXml(p) + "</param>").join("") +
    "</params></methodCall>";
  const response = await fetch(hubUrl, {
    method: "POST", headers: { "Content-Type": "text/xml" }, body: body,
  });
  if (!response.ok) {
    throw new Error(method + ": HTTP " + response.status);
  }
  const doc = new DOMParser().parseFromString(await response.text(), "application/xml");
  const fault = doc.querySelector("methodResponse > fault > value");
  if (fault !== null) {
    throw new Error(method + " fault: " + fromXml(fault)["faultString"]);
  }
  return fromXml(doc.querySelector("methodResponse > params > param > value"));
}

async function rowCount(translator, url) {
  const response = await fetch(translator + encodeURIComponent(url));
  if (!response.ok) {
    throw new Error("URL translator: HTTP " + response.status);
  }
  const doc = new DOMParser().parseFromString(await response.text(), "application/xml");
  return doc.getElementsByTagName("TR").length;
}

async function receiveCall(reg, senderId, msgId, message) {
  const key = reg["samp.private-key"];
  let response;
  try {
    if (message["samp.mtype"] !== "table.load.votable") {
      throw new Error("unexpected MType " + message["samp.mtype"]);
    }
    const rows = await rowCount(reg["samp.url-translator"], message["samp.params"]["url"]);
    samp.rows = rows;
    response = { "samp.status": "samp.ok", "samp.result": { "rows": String(rows) } };
  } catch (error) {
    samp.errors.push(String(error));
    response = { "samp.status": "samp.error", "samp.error": { "samp.errortxt": String(error) } };
  }
  await call("samp.webhub.reply", [key, msgId, response]);
  setState("replied");
}

async function main() {
  const reg = await call("samp.webhub.register", [{ "samp.name": "Browser Test Page" }]);
  const key = reg["samp.private-key"];
  samp.selfId = reg["samp.self-id"];
  await call("samp.webhub.declareMetadata", [key, { "samp.name": "Browser Test Page" }]);
  await call("samp.webhub.allowReverseCallbacks", [key, "1"]);
  await call("samp.webhub.declareSubscriptions", [key, { "table.load.votable": {} }]);
  setState("ready");
  for (;;) {
    const callbacks = await call("samp.webhub.pullCallbacks", [key, "10"]);
    for (const callback of callbacks) {
      log("callback: " + callback["samp.methodName"]);
      if (callback["samp.methodName"] === "receiveCall") {
        await receiveCall(reg, ...callback["samp.params"]);
      }
    }
  }
}

main().catch((error) => {
  samp.errors.push(String(error));
  setState("failed: " + error);
});
