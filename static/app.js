// Knative Console: small enhancements over forms that already work without JavaScript.
"use strict";

function updateTotal(form) {
  const inputs = form.querySelectorAll("[data-percent]");
  if (!inputs.length) return;
  let total = 0;
  let valid = true;
  inputs.forEach((input) => {
    const text = input.value.trim();
    if (!/^\d+$/.test(text) || Number(text) > 100) { valid = false; return; }
    total += Number(text);
  });
  const ok = valid && total === 100;
  const label = form.querySelector("[data-total]");
  if (label) {
    label.textContent = "Total: " + (valid ? total : "?") + "%" + (ok ? "" : " — must be 100%");
    label.classList.toggle("invalid", !ok);
  }
  // A button the user may not press (their RBAC forbids the write) stays disabled whatever the sum.
  // A screen reader reads why with the disabled button: the total, or the notice of what the user may not do. Disabled
  // with aria-disabled (see blockDisabled below), so that it stays in the Tab order.
  form.querySelectorAll("[data-ok]").forEach((button) => {
    if (button.hasAttribute("data-not-allowed")) return;
    if (ok) {
      button.removeAttribute("aria-disabled");
      button.removeAttribute("aria-describedby");
    } else {
      button.setAttribute("aria-disabled", "true");
      button.setAttribute("aria-describedby", "traffic-total");
    }
  });
  updateAfter(form, ok);
}

// The split a traffic form asks for, in the words the server uses.
function splitWords(form) {
  const parts = [];
  form.querySelectorAll("tr[data-row]").forEach((row) => {
    const percent = Number(row.querySelector("[data-percent]").value.trim());
    const tag = row.querySelector("[data-tag]").value.trim();
    if (row.dataset.row !== "latest" && percent === 0 && !tag) return;  // not written, as the server plans it
    parts.push(row.dataset.short + " " + percent + "%" + (tag ? " (tag " + tag + ")" : ""));
  });
  return parts;
}

// The promote / roll back dialog's "After OK" line follows the inputs.
function updateAfter(form, ok) {
  const scope = form.closest(".dialog-body") || document;
  const after = scope.querySelector("[data-after]");
  if (!after) return;
  after.textContent = ok ? splitWords(form).join(" · ") : "— (the shares must add up to 100%)";
}

// A control disabled for a reason has aria-disabled="true", not `disabled`: it stays in the Tab order, so that a keyboard
// or screen-reader user reaches it and hears why (its description). Pressing it does nothing and sends nothing: a click,
// Enter or Space on it, and Enter in one of its form's fields (the browser presses the form's default button, which is
// disabled with it), are stopped here, before htmx or the form see them, and the reason is said again. Without
// JavaScript the form is sent and the server (or the cluster) refuses it, saying why.
function disabledControl(node) {
  return node && node.closest ? node.closest('[aria-disabled="true"]') : null;
}

function reasonOf(control) {
  const ids = (control.getAttribute("aria-describedby") || "").split(/\s+/).filter((id) => id);
  return ids.map((id) => words(document.getElementById(id))).filter((text) => text).join(" ") || control.title;
}

window.addEventListener("click", (event) => {
  const control = disabledControl(event.target);
  if (!control) return;
  event.preventDefault();
  event.stopImmediatePropagation();
  announce([reasonOf(control)]);
}, true);
window.addEventListener("submit", (event) => {  // a submit without a click (requestSubmit with a disabled submitter)
  if (!disabledControl(event.submitter)) return;
  event.preventDefault();
  event.stopImmediatePropagation();
}, true);

function addEnvRow(fieldset) {
  const body = fieldset.querySelector("[data-env-rows]");
  const rows = body.querySelectorAll("[data-row]");
  const template = rows[rows.length - 1];
  const row = template.cloneNode(true);
  const index = rows.length;
  row.querySelectorAll("input").forEach((input) => {
    input.value = "";
    input.removeAttribute("aria-invalid");
    const kind = input.name === "env_name" ? "name" : "value";
    input.id = "env-" + kind + "-" + index;
    const label = row.querySelector("label[for^='env-" + kind + "-']");
    if (label) {
      label.htmlFor = input.id;
      label.textContent = "Variable " + (index + 1) + " " + kind;
    }
  });
  row.querySelectorAll(".error").forEach((node) => node.remove());
  body.appendChild(row);
  enhanceEnv(fieldset);
  row.querySelector("input").focus();
}

function enhanceEnv(fieldset) {
  fieldset.querySelectorAll("[data-remove-row]").forEach((button) => {
    button.hidden = false;
    button.onclick = () => {
      const rows = fieldset.querySelectorAll("[data-row]");
      const row = button.closest("[data-row]");
      if (rows.length > 1) {
        row.remove();
      } else {
        row.querySelectorAll("input").forEach((input) => { input.value = ""; });
      }
    };
  });
  const add = fieldset.querySelector("[data-add-env]");
  if (add) {
    add.onclick = (event) => { event.preventDefault(); addEnvRow(fieldset); };
  }
}

// Times from the cluster are rendered as UTC dates (the same whenever they are rendered); shown here as ages, as
// kubectl's AGE column says them.
function age(seconds) {
  if (seconds < 120) return Math.max(seconds, 0) + "s";
  const minutes = Math.floor(seconds / 60);
  if (minutes < 180) return minutes + "m";
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return hours < 8 && minutes % 60 ? hours + "h" + (minutes % 60) + "m" : hours + "h";
  return Math.floor(hours / 24) + "d";
}

function showAges(root) {
  const now = Date.now();
  root.querySelectorAll("time[data-age]").forEach((node) => {
    const then = Date.parse(node.getAttribute("datetime"));
    if (Number.isNaN(then)) return;
    const text = age(Math.floor((now - then) / 1000)) + " ago";
    node.textContent = node.dataset.age === "absolute" ? node.title + " (" + text + ")" : text;
  });
  // Times to come (a rollout's end): the time left, counted down.
  root.querySelectorAll("time[data-until]").forEach((node) => {
    const then = Date.parse(node.getAttribute("datetime"));
    if (Number.isNaN(then)) return;
    const left = Math.ceil((then - now) / 1000);
    node.textContent = left > 0 ? "about " + age(left) + " from now" : "any moment now";
  });
}
setInterval(() => showAges(document), 10000);
setInterval(() => {
  if (document.querySelector("time[data-until]")) showAges(document);
}, 1000);

function enhance(root) {
  showAges(root);
  root.querySelectorAll("[data-traffic-form]").forEach((form) => {
    form.addEventListener("input", () => updateTotal(form));
    updateTotal(form);
  });
  root.querySelectorAll("[data-env]").forEach(enhanceEnv);
  root.querySelectorAll("form[data-autosubmit] select").forEach((select) => {
    select.addEventListener("change", () => select.form.submit());
    const go = select.form.querySelector("[data-go]");
    if (go) go.hidden = true;
  });
  // Shown only where it can work: without a secure context (plain HTTP off loopback) there is no clipboard API.
  if (navigator.clipboard) root.querySelectorAll("[data-copy]").forEach((button) => {
    button.hidden = false;
    button.addEventListener("click", () => {
      const source = document.getElementById(button.dataset.copy);
      if (!source) return;
      navigator.clipboard.writeText(source.textContent).then(
        () => { button.textContent = "Copied"; },
        () => { button.textContent = "Copy failed: select the text instead"; },
      );
    });
  });
  root.querySelectorAll("[data-close-dialog]").forEach((link) => {
    link.addEventListener("click", (event) => {
      const dialog = link.closest("dialog");
      if (dialog) { event.preventDefault(); dialog.close(); }
    });
  });
}

document.addEventListener("DOMContentLoaded", () => enhance(document));
document.addEventListener("htmx:load", (event) => {
  if (event.target !== document.body) enhance(event.target);  // the body was enhanced on DOMContentLoaded
});
// The dialog: focus goes to its first field that needs attention, else to what it marks [autofocus], else to its first
// control, whenever it opens or its content is replaced (a refused OK); Tab and Shift+Tab go round inside it. Escape
// and Cancel close it, and the browser gives focus back to what opened it.
const TABBABLE = "a[href],button:not([disabled]),input:not([type=hidden]):not([disabled]),select:not([disabled])," +
  "textarea:not([disabled]),summary,[tabindex]";

function tabbables(root) {
  return Array.from(root.querySelectorAll(TABBABLE)).filter((node) => node.tabIndex >= 0 &&
    !node.closest("[aria-hidden=true],[hidden]") && node.getClientRects().length > 0);
}

function focusFirst(root) {
  const target = root.querySelector("[aria-invalid=true]") || root.querySelector("[autofocus]") || tabbables(root)[0];
  if (target) target.focus();
}

// What opened the dialog, by its hx-get: a live update may replace it while the dialog is open (the revision table's
// "Roll back to this"), and the browser then gives focus to nothing; its replacement takes focus instead.
let opener = null;  // {node, key}: the element, and its hx-get to find its replacement by
document.addEventListener("htmx:afterSwap", (event) => {
  const dialog = document.getElementById("dialog");
  if (event.detail.target !== dialog) return;
  if (!dialog.open) {
    const from = document.activeElement;
    opener = from && from.getAttribute && from.getAttribute("hx-get") ? {node: from, key: from.getAttribute("hx-get")} : null;
    dialog.showModal();
  }
  if (!dialog.querySelector("[data-announce]")) {
    const note = document.createElement("div");
    note.className = "visually-hidden";
    note.setAttribute("role", "status");
    note.dataset.announce = "";
    dialog.append(note);
  }
  // htmx makes swapped-in forms work when they settle (20 ms on); focus is given now, so a field typed in and sent
  // with Enter at once would post the plain form and leave the page: make them work first.
  htmx.process(dialog);
  focusFirst(dialog);
});
document.addEventListener("keydown", (event) => {
  const dialog = document.getElementById("dialog");
  if (event.key !== "Tab" || !dialog || !dialog.open) return;
  const stops = tabbables(dialog);
  if (!stops.length) return;
  const first = stops[0];
  const last = stops[stops.length - 1];
  const inside = dialog.contains(document.activeElement);
  if (event.shiftKey && (document.activeElement === first || !inside)) {
    event.preventDefault();
    last.focus();
  } else if (!event.shiftKey && (document.activeElement === last || !inside)) {
    event.preventDefault();
    first.focus();
  }
});
// A split the dialog sent: the cluster took it and the details page loads again, without the dialog and its focus;
// that page says so in its status region.
const SAID = "knative-console-said";
document.addEventListener("htmx:beforeOnLoad", (event) => {
  const form = event.detail.elt;
  if (!form.matches || !form.matches("#dialog form[data-traffic-form]")) return;
  if (!event.detail.xhr.getResponseHeader("HX-Redirect")) return;
  try {
    sessionStorage.setItem(SAID, "The cluster accepted the split: " + splitWords(form).join(", ") +
      ". The Traffic section shows what is routed.");
  } catch (error) { /* no session storage: nothing said */ }
});
document.addEventListener("DOMContentLoaded", () => {
  let said = null;
  try {
    said = sessionStorage.getItem(SAID);
    sessionStorage.removeItem(SAID);
  } catch (error) { return; }
  if (said) setTimeout(() => announce([said]), 500);  // once screen readers have taken in the new page
});
// A page that comes back with fields that need attention (a refused form without htmx) starts at the first of them.
document.addEventListener("DOMContentLoaded", () => {
  const invalid = document.querySelector('#main form [aria-invalid=true], #main form [aria-describedby~="e-traffic"]');
  if (invalid) invalid.focus();
});
// The page a form's post leads to (Create Service, Create Revision, a split) names the section the post changed as its
// fragment (#region-traffic, app.web.context.go): focus starts on that section's heading, not at the top of the page,
// so that a keyboard or screen-reader user goes on from what changed. The fragment is then dropped from the address:
// a reload, or the page bookmarked, starts at the top as usual.
document.addEventListener("DOMContentLoaded", () => {
  const id = location.hash.slice(1);
  if (!id.startsWith("region-")) return;
  const region = document.getElementById(id);
  const heading = region && region.querySelector("h2");
  if (!heading || document.activeElement !== document.body) return;
  heading.tabIndex = -1;
  heading.focus();
  history.replaceState(history.state, "", location.pathname + location.search);
});
// The connection banner. The server fills it (region "connection") when the cluster does not answer and empties it
// when it does; the browser fills it when the console itself does not answer, and empties it once it does again.
function showConnection(text) {
  const note = document.getElementById("connection");
  if (!note) return;
  note.replaceChildren();
  if (!text) return;
  const span = document.createElement("span");
  span.dataset.text = "";
  span.textContent = text;
  const reload = document.createElement("a");
  reload.href = "";
  reload.textContent = "Reload";
  note.append(span, " ", reload);
  note.dataset.source = "browser";
}
// A stream turned away by the caps is answered with why (data-refused) and closed: that is not the console failing to
// answer, so its text stays until the browser tries again (in a minute, as the answer asks).
function refusedNote(note) {
  return note && note.querySelector("[data-refused]");
}
document.addEventListener("htmx:sseError", () => {
  const note = document.getElementById("connection");
  if (!refusedNote(note)) showConnection("The console does not answer, so this page is not updating; reconnecting.");
  document.body.classList.remove("is-live");
});
// Each stream starts with the browser's CSRF token as the console signs it now: after a restart of the console (with a
// new key) the page's forms and htmx requests carry the new one, instead of being refused as expired.
function useToken(token) {
  if (!token) return;
  document.body.setAttribute("hx-headers", JSON.stringify({"X-CSRF-Token": token}));
  document.querySelectorAll('input[name="csrf_token"]').forEach((input) => { input.value = token; });
}
document.addEventListener("htmx:sseOpen", (event) => {
  const source = event.detail && event.detail.source;
  if (source && !source.tokenFollowed) {
    source.tokenFollowed = true;
    source.addEventListener("csrf", (message) => useToken(message.data));
  }
  const note = document.getElementById("connection");
  if (note && (note.dataset.source === "browser" || refusedNote(note))) {  // the server says what it knows now
    delete note.dataset.source;
    note.replaceChildren();
  }
  document.body.classList.add("is-live");
});
document.addEventListener("htmx:sseBeforeMessage", (event) => {
  const note = document.getElementById("connection");
  if (event.detail.type === "connection" && note) delete note.dataset.source;
});

// A tab out of sight gives its live stream back: a browser may hold only a few of them for one console (the server's
// cap, which keeps its other requests from waiting), and a team lead keeps more tabs than that open. Shown again, the
// tab opens a new stream, which sends what changed since the last event it got (`last`); its ages are counted again
// at once, since a hidden tab's timers run late.
let lastEventId = "";
let paused = false;
let resumedAt = 0;
let retries = 0;
document.addEventListener("htmx:sseMessage", (event) => {
  if (event.detail && event.detail.lastEventId) lastEventId = event.detail.lastEventId;
});
function pauseStream() {
  if (paused || !document.body.hasAttribute("sse-connect")) return;
  paused = true;
  htmx.trigger(document.body, "htmx:beforeCleanupElement");  // the SSE extension closes the EventSource
  document.body.classList.remove("is-live");
}
function resumeStream() {
  if (!paused) return;
  paused = false;
  resumedAt = Date.now();
  const body = document.body;
  const url = new URL(body.getAttribute("sse-connect"), location.href);
  if (lastEventId) url.searchParams.set("last", lastEventId);
  body.setAttribute("sse-connect", url.pathname + url.search);
  htmx.trigger(body, "htmx:afterProcessNode");  // the SSE extension opens a new EventSource …
  body.querySelectorAll("[sse-swap]").forEach((region) => htmx.trigger(region, "htmx:afterProcessNode"));  // … for these
}
document.addEventListener("visibilitychange", () => {
  if (document.hidden) {
    pauseStream();
    return;
  }
  showAges(document);
  retries = 0;
  resumeStream();
});
// A laptop that slept: its timers stopped, and its stream may be a connection that died meanwhile without either end
// being told (nothing arrives, no error, and the page would say nothing). Woken (the clock jumped well past a tick) or
// back on a network, a tab in sight opens a new stream, which catches up from its last event.
const TICK_MS = 10000;
let lastTick = Date.now();
function renewStream() {
  if (paused || document.hidden || !document.body.hasAttribute("sse-connect")) return;
  pauseStream();
  resumeStream();
}
setInterval(() => {
  const now = Date.now();
  if (now - lastTick > 3 * TICK_MS) renewStream();
  lastTick = now;
}, TICK_MS);
window.addEventListener("online", renewStream);

// Shown again just as another tab of this browser was hidden, a tab may reach the server before that tab's stream is
// counted out, and be turned away by the cap: it tries again at once, a few times, rather than in a minute.
document.addEventListener("htmx:sseMessage", (event) => {
  if (event.detail.type !== "connection" || !refusedNote(document.getElementById("connection"))) return;
  if (document.hidden || Date.now() - resumedAt > 5000 || retries >= 3) return;
  retries += 1;
  pauseStream();
  setTimeout(() => { if (!document.hidden) resumeStream(); }, 500 * retries);
});

// A live update replaces a region's HTML. It keeps the user's place: the control that had focus (found again by its
// row and what it is), the sections they opened, the row they were looking at where it was on screen, and a table
// scrolled sideways. Rows are known by their data-revision / data-service / data-instance, a failure by its
// data-failure.
const KEYED = "[data-revision],[data-service],[data-instance],[data-failure]";
const FOCUSABLE = "a[href],button,input,select,textarea,summary,[tabindex]";

function keyOf(node) {
  const keyed = node.closest(KEYED);
  if (!keyed) return "";
  for (const name of ["data-revision", "data-service", "data-instance", "data-failure"]) {
    if (keyed.hasAttribute(name)) {
      const namespace = keyed.getAttribute("data-namespace");
      return "[" + name + '="' + CSS.escape(keyed.getAttribute(name)) + '"]' +
        (namespace ? '[data-namespace="' + CSS.escape(namespace) + '"]' : "");
    }
  }
  return "";
}

function scopeOf(region, key) {
  return key ? region.querySelector(key) : region;
}

function signature(node) {
  return [node.tagName, node.getAttribute("name"), node.getAttribute("value"), node.getAttribute("href"),
    node.textContent.trim()].join("\u0000");
}

function notePlace(region) {
  const place = {focus: null, open: [], anchor: null, sideways: []};
  const active = document.activeElement;
  if (active && active !== document.body && region.contains(active)) {
    const key = keyOf(active);
    const scope = scopeOf(region, key);
    place.focus = {key, signature: signature(active), index: Array.from(scope.querySelectorAll(FOCUSABLE)).indexOf(active),
      heading: active.matches("h2")};  // a section's heading, where a form's post put focus (below)
  }
  region.querySelectorAll("details[open]").forEach((details) => {
    const summary = details.querySelector("summary");
    place.open.push({key: keyOf(details), summary: summary ? summary.textContent.trim() : ""});
  });
  if (window.scrollY > 0) {  // the first row (or region) that starts in view, and where it is on screen
    const candidates = document.querySelectorAll("#main " + KEYED.split(",").join(",#main ") + ",#main .region[id]");
    for (const node of candidates) {
      const box = node.getBoundingClientRect();
      if (box.top >= 0 && box.height > 0) {
        place.anchor = {key: node.id ? "#" + CSS.escape(node.id) : keyOf(node), top: box.top};
        break;
      }
    }
  }
  region.querySelectorAll(".table-scroll").forEach((node) => place.sideways.push(node.scrollLeft));
  return place;
}

function keepPlace(region, place) {
  showAges(region);  // as htmx:load will, so that the rows have their final height now
  place.open.forEach(({key, summary}) => {
    const scope = scopeOf(region, key);
    if (!scope) return;
    scope.querySelectorAll("details:not([open])").forEach((details) => {
      const mine = details.querySelector("summary");
      if (keyOf(details) === key && (mine ? mine.textContent.trim() : "") === summary) details.open = true;
    });
  });
  region.querySelectorAll(".table-scroll").forEach((node, index) => {
    if (index < place.sideways.length) node.scrollLeft = place.sideways[index];
  });
  const heading = place.focus && place.focus.heading ? region.querySelector("h2") : null;
  if (heading) {
    heading.tabIndex = -1;
    heading.focus({preventScroll: true});
  } else if (place.focus) {
    const scope = scopeOf(region, place.focus.key);
    if (scope) {
      const focusable = Array.from(scope.querySelectorAll(FOCUSABLE));
      const same = focusable.find((node) => signature(node) === place.focus.signature) || focusable[place.focus.index];
      if (same) same.focus({preventScroll: true});
    }
  }
  keepAnchor(place);
}

function keepAnchor(place) {
  if (!place.anchor) return;
  const node = document.querySelector("#main " + place.anchor.key);
  if (node) window.scrollBy(0, node.getBoundingClientRect().top - place.anchor.top);
}

// The Service list marks a Service deleted while it was open (a row with data-deleted, sent by the page's stream):
// only in a tab that showed it, so a tab opened (or refreshed) since does not list what it never showed.
const shownRows = new WeakMap();
function keepDeletedShown(region) {
  const shown = shownRows.get(region);
  if (!shown) return;
  shownRows.delete(region);
  region.querySelectorAll("tr[data-deleted]").forEach((row) => { if (!shown.has(keyOf(row))) row.remove(); });
}

// What a live update changed that a screen reader user should hear, said once in the page's #announce status region
// (the regions themselves are not live regions: a whole table read out on every update is noise). The facts: each
// revision's and Service's status, the page's status, and the split in force.
function words(node) {
  return node ? node.textContent.replace(/\s+/g, " ").trim() : "";
}

function facts(region) {
  const found = new Map();
  region.querySelectorAll("tr[data-revision], tr[data-service]").forEach((row) => {
    const status = row.querySelector(".status");
    if (!status) return;
    const reason = words(row.querySelector(".reason"));
    const kind = row.hasAttribute("data-revision") ? "Revision " + row.dataset.revision : "Service " + row.dataset.service +
      (row.dataset.namespace ? " in " + row.dataset.namespace : "");
    found.set(keyOf(row), kind + ": " + words(status) + (reason ? " (" + reason + ")" : "") + ".");
  });
  const info = region.querySelector("dl.info .status");
  if (info) found.set("status", "Status: " + words(info) + ".");
  const shares = Array.from(region.querySelectorAll("table.traffic-now tr[data-entry]")).map((row) =>
    (row.dataset.entry === "latest" ? "the latest ready revision" : row.dataset.entry) + " " +
    words(row.querySelector("td.num")));
  if (shares.length) found.set("traffic", "Traffic now: " + shares.join(", ") + ".");
  const change = region.querySelector("table.history tbody tr[data-source]");
  if (change) found.set("history", "Latest change: " + words(change.cells[1].firstChild) + ", by " + words(change.cells[2]) + ".");
  const check = region.querySelector("[data-check-result]");
  if (check) {  // said once, when the check is over
    const rows = Array.from(check.querySelectorAll("tr[data-check-row]")).map((row) => row.dataset.checkRow + ": " +
      (row.dataset.configured === undefined ? "" : "configured " + row.dataset.configured + "%, ") + "observed " +
      row.dataset.observed + "%");
    const parts = [words(check.querySelector(".check-progress label")), words(check.querySelector("[data-check-done]")),
      words(check.querySelector("[data-check-problem]")), rows.join("; ")];
    found.set("check", check.dataset.checkResult === "running" ? "" : parts.filter((part) => part).join(" ") + ".");
  }
  return found;
}

// While the dialog is open the rest of the page is inert, its status region too: the dialog has one of its own.
function announcer() {
  const dialog = document.getElementById("dialog");
  if (dialog && dialog.open) return dialog.querySelector("[data-announce]");
  return document.getElementById("announce");
}

function announce(sentences) {
  sentences = sentences.filter((sentence) => sentence);
  const note = announcer();
  if (!note || !sentences.length) return;
  const shown = sentences.slice(0, 3);
  if (sentences.length > shown.length) shown.push("And " + (sentences.length - shown.length) + " more changes.");
  note.textContent = "";  // the same sentence again is still news
  setTimeout(() => { note.textContent = shown.join(" "); }, 50);
}

function announceChanges(before, region) {
  const after = facts(region);
  const news = [];
  after.forEach((sentence, key) => {
    if (before.size && before.get(key) !== sentence) news.push(sentence);
  });
  announce(news);
}

const places = new WeakMap();
const known = new WeakMap();
document.addEventListener("htmx:sseBeforeMessage", (event) => {
  const region = event.target;
  if (!region || !region.matches("[sse-swap]")) return;
  places.set(region, notePlace(region));
  shownRows.set(region, new Set(Array.from(region.querySelectorAll("tr[data-service]"), keyOf)));
  known.set(region, facts(region));
});
// At once, before the browser paints the new content; the row in view once more after htmx has settled it.
document.addEventListener("htmx:sseMessage", (event) => {
  keepDeletedShown(event.target);
  const place = places.get(event.target);
  if (place) keepPlace(event.target, place);
  const before = known.get(event.target);
  if (before) {
    known.delete(event.target);
    announceChanges(before, event.target);
  }
});
document.addEventListener("htmx:afterSettle", (event) => {
  const place = places.get(event.target);
  if (!place) return;
  places.delete(event.target);
  keepAnchor(place);
});

// The Split Traffic dialog follows the traffic in force while it is open: the page's live `split` region (a template,
// no part of the page) brings each row's "Now", the split before OK and the notes about a held split or a rollout;
// they are copied into the dialog, and what the user typed in the rows is left as it is. A change is said in the
// dialog, and once to a screen reader. OK still writes only onto the Service the dialog was made from (a conflict
// shows the other change).
const SPLIT_CHANGED = "The traffic in force changed while this dialog was open: the Now column shows it as it is " +
  "now. What you typed is kept.";

function copyInto(target, source) {
  target.replaceChildren(...Array.from(source.childNodes, (node) => node.cloneNode(true)));
}

function followSplit(region) {
  const source = region.querySelector("template[data-split-now]");
  const dialog = document.getElementById("dialog");
  const form = dialog && dialog.open ? dialog.querySelector("form[data-traffic-form]") : null;
  if (!source || !form || !form.querySelector("td[data-now]")) return;
  const entries = new Map(Array.from(source.content.querySelectorAll("[data-now-for]"),
    (node) => [node.dataset.nowFor, node]));
  let changed = false;
  form.querySelectorAll("tr[data-row]").forEach((row) => {
    const cell = row.querySelector("td[data-now]");
    const revision = row.querySelector('input[name="row_revision"]');
    if (!cell || row.dataset.row === "new") return;
    const key = row.dataset.row === "latest" ? "latest" : row.dataset.row + ":" + (revision ? revision.value : "");
    const entry = entries.get(key) || entries.get("");
    if (!entry || words(cell) === words(entry)) return;
    const unknown = words(cell) === "?";  // a form shown again while the cluster did not answer: not a change
    copyInto(cell, entry);
    cell.dataset.now = entry.dataset.now;
    changed = changed || !unknown;
  });
  // The latest-revision row's label (where the floating share goes now: a new revision Ready, a rollout's step) and
  // its name in the "After OK" line.
  const latest = form.querySelector('tr[data-row="latest"]');
  const label = latest && latest.querySelector("[data-floating-now]");
  const freshLabel = source.content.querySelector("[data-floating-now]");
  if (label && freshLabel && words(label) !== words(freshLabel)) {
    label.textContent = freshLabel.textContent;
    changed = true;
  }
  if (latest && source.dataset.floatingShort && latest.dataset.short !== source.dataset.floatingShort) {
    latest.dataset.short = source.dataset.floatingShort;
    updateTotal(form);
  }
  const scope = dialog.querySelector(".dialog-body") || dialog;
  const notes = scope.querySelector("[data-split-notes]");
  const fresh = source.content.querySelector("[data-split-notes]");
  if (notes && fresh && words(notes) !== words(fresh)) {
    copyInto(notes, fresh);
    changed = true;
  }
  const before = scope.querySelector("[data-before]");
  if (before && before.textContent !== source.dataset.before) {
    before.textContent = source.dataset.before;
    changed = true;
  }
  if (!changed) return;
  let note = scope.querySelector("[data-split-changed]");
  if (!note) {
    note = document.createElement("p");
    note.className = "alert";
    note.dataset.splitChanged = "";
    note.textContent = SPLIT_CHANGED;
    scope.insertBefore(note, form);
  }
  announce(["The traffic in force changed while this dialog was open. Now: " + (source.dataset.before || "none") +
    ". What you typed is kept."]);
}
document.addEventListener("htmx:sseMessage", (event) => {
  if (event.target && event.target.matches && event.target.matches("[sse-swap]")) followSplit(event.target);
});

// The traffic check: Cancel (or closing its dialog) closes the stream, which cancels the requests still out; what
// was counted so far stays on the page.
function stopCheck(stream, note) {
  if (!stream) return;
  htmx.trigger(stream, "htmx:beforeCleanupElement");  // the SSE extension closes the stream's EventSource
  const kept = document.createElement("div");
  kept.className = "check-stream";
  kept.innerHTML = stream.innerHTML;
  kept.querySelectorAll("[data-cancel-check]").forEach((button) => {
    const done = document.createElement("span");
    done.textContent = note;
    button.replaceWith(done);
  });
  stream.replaceWith(kept);
}
document.addEventListener("click", (event) => {
  const button = event.target.closest && event.target.closest("[data-cancel-check]");
  if (button) stopCheck(button.closest("[data-check-stream]"), "Cancelled.");
});
document.addEventListener("close", (event) => {
  if (event.target.id !== "dialog") return;
  stopCheck(event.target.querySelector("[data-check-stream]"), "Cancelled.");
  const from = opener;
  opener = null;
  // The browser gave focus back before this event, to the opener if it is still in the page. If it is not, nothing
  // has focus, though document.activeElement may still name the closed dialog's field until the browser's next
  // rendering step: whether it does is a matter of timing, so the opener's own presence decides, not that.
  if (!from || from.node.isConnected) return;
  const again = Array.from(document.querySelectorAll("[hx-get]")).find((node) => node.getAttribute("hx-get") === from.key);
  if (again) again.focus();
}, true);

// Revisions ticked for Compare stay ticked when the live stream replaces the revision table, and when the user comes
// Back from the comparison (the page is read again, so they are kept in this tab's sessionStorage, per page).
const PICKS_KEY = "compare-picks " + location.pathname;
const comparePicks = new Set(readPicks());
function readPicks() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(PICKS_KEY) || "[]");
    return Array.isArray(saved) ? saved.filter((name) => typeof name === "string") : [];
  } catch (error) {
    return [];  // storage refused (a privacy setting) or unreadable: only the live updates keep them
  }
}
function savePicks() {
  try {
    if (comparePicks.size) sessionStorage.setItem(PICKS_KEY, JSON.stringify([...comparePicks]));
    else sessionStorage.removeItem(PICKS_KEY);
  } catch (error) { /* as above */ }
}
document.addEventListener("change", (event) => {
  const box = event.target;
  if (!box.matches || !box.matches("[data-compare-pick]")) return;
  if (box.checked) comparePicks.add(box.value); else comparePicks.delete(box.value);
  savePicks();
});
document.addEventListener("htmx:load", (event) => {
  event.target.querySelectorAll("[data-compare-pick]").forEach((box) => { box.checked = comparePicks.has(box.value); });
});
