// Gennaker UI: the little behaviour pages need on top of plain HTML forms and links.
// - [data-filter-rows]: filter-as-you-type over table rows (by their data-name).
// - [data-autosubmit]: a select that applies its form when changed.
// - [data-poll][data-running=true]: re-fetch this element's URL every 2 s and swap it in,
//   until the server answers an element that is no longer running. Never swaps while the
//   user is typing inside it.
// - [data-cron-validate=ID]: as the user types a cron expression, ask the API's
//   /cron/validate and show its answer in element ID (Deck's live cron feedback).
"use strict";

(function () {
  const POLL_MS = 2000;

  function setUpFilter(input) {
    const rows = () => document.querySelectorAll(input.dataset.filterRows);
    const apply = () => {
      const wanted = input.value.trim().toLowerCase();
      for (const row of rows()) {
        row.hidden = wanted !== "" && !(row.dataset.name || "").includes(wanted);
      }
    };
    input.addEventListener("input", apply);
    apply();
  }

  function setUpAutosubmit(select) {
    select.addEventListener("change", () => select.form && select.form.requestSubmit());
  }

  const CRON_DELAY_MS = 300;

  function setUpCronFeedback(input) {
    const feedback = document.getElementById(input.dataset.cronValidate);
    if (!feedback) return;
    let timer;
    let asked = 0;
    const check = async () => {
      const expression = input.value.trim();
      const mine = ++asked;
      if (expression === "") {
        feedback.textContent = "";
        return;
      }
      try {
        const response = await fetch(`/cron/validate?expression=${encodeURIComponent(expression)}`, {
          headers: { Accept: "application/json" },
          credentials: "same-origin",
          cache: "no-store",
        });
        const answer = await response.json();
        if (mine !== asked) return; // a newer expression was typed meanwhile
        feedback.classList.toggle("cron-invalid", !response.ok);
        feedback.textContent = response.ok
          ? `Valid: ${answer.description || answer.response}`
          : `Invalid: ${answer.message || response.statusText}`;
      } catch (_) {
        if (mine === asked) feedback.textContent = "";
      }
    };
    input.addEventListener("input", () => {
      window.clearTimeout(timer);
      timer = window.setTimeout(check, CRON_DELAY_MS);
    });
    if (input.value.trim() !== "") check();
  }

  function busy(element) {
    const active = document.activeElement;
    return active && element.contains(active) && active.matches("input, select, textarea");
  }

  // A form the user opened (Start, Cancel) stays open across refreshes.
  function keepOpen(old, fresh) {
    for (const open of old.querySelectorAll("details[open][id]")) {
      const twin = fresh.querySelector(`details[id="${CSS.escape(open.id)}"]`);
      if (twin) twin.open = true;
    }
  }

  function poll(element) {
    if (element.dataset.running !== "true") return;
    window.setTimeout(async () => {
      if (!element.isConnected) return;
      if (busy(element)) return poll(element);
      try {
        const response = await fetch(element.dataset.poll, {
          headers: { Accept: "text/html" },
          credentials: "same-origin",
          cache: "no-store",
        });
        if (!response.ok) return poll(element);
        const holder = document.createElement("template");
        holder.innerHTML = await response.text();
        const fresh = holder.content.firstElementChild;
        if (!fresh || fresh.id !== element.id) return poll(element);
        keepOpen(element, fresh);
        element.replaceWith(fresh);
        if (fresh.dataset.running !== "true" && fresh.dataset.status) {
          // The execution finished: refresh once so the header and actions match.
          window.location.reload();
          return;
        }
        poll(fresh);
      } catch (_) {
        poll(element);
      }
    }, POLL_MS);
  }

  function start() {
    document.querySelectorAll("[data-filter-rows]").forEach(setUpFilter);
    document.querySelectorAll("[data-autosubmit]").forEach(setUpAutosubmit);
    document.querySelectorAll("[data-poll]").forEach(poll);
    document.querySelectorAll("[data-cron-validate]").forEach(setUpCronFeedback);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
