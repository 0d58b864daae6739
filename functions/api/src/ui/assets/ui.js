// Gennaker UI: the little behaviour pages need on top of plain HTML forms and links.
// - [data-filter-rows]: filter-as-you-type over table rows (by their data-name).
// - [data-autosubmit]: a select that applies its form when changed.
// - [data-poll][data-running=true]: re-fetch this element's URL every 2 s and swap it in,
//   until the server answers an element that is no longer running. Never swaps while the
//   user is typing inside it.
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
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
