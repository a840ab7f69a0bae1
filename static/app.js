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
  form.querySelectorAll("[data-ok]").forEach((button) => { button.disabled = !ok; });
  updateAfter(form, ok);
}

// The promote / roll back dialog's "After OK" line follows the inputs, in the words the server uses.
function updateAfter(form, ok) {
  const scope = form.closest(".dialog-body") || document;
  const after = scope.querySelector("[data-after]");
  if (!after) return;
  const parts = [];
  form.querySelectorAll("tr[data-row]").forEach((row) => {
    const percent = Number(row.querySelector("[data-percent]").value.trim());
    const tag = row.querySelector("[data-tag]").value.trim();
    if (row.dataset.row !== "latest" && percent === 0 && !tag) return;  // not written, as the server plans it
    parts.push(row.dataset.short + " " + percent + "%" + (tag ? " (tag " + tag + ")" : ""));
  });
  after.textContent = ok ? parts.join(" · ") : "— (the shares must add up to 100%)";
}

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

function enhance(root) {
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
document.addEventListener("htmx:afterSwap", (event) => {
  const dialog = document.getElementById("dialog");
  if (event.detail.target === dialog && !dialog.open) dialog.showModal();
});
document.addEventListener("htmx:afterRequest", (event) => {
  // While a live region polls, say when the console cannot refresh it, and stop saying so once it can.
  if (event.detail.requestConfig.verb !== "get") return;
  const note = document.getElementById("connection");
  if (!note) return;
  if (event.detail.successful) {
    note.hidden = true;
  } else {
    const xhr = event.detail.xhr;
    const text = xhr && xhr.status ? "The last refresh failed (HTTP " + xhr.status + "); retrying." :
      "The console did not answer; retrying.";
    note.querySelector("[data-text]").textContent = text;
    note.hidden = false;
  }
});
