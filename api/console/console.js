// The review console: draft, read the sources, edit and rate, over the REST API. Everything a
// store holds may carry text an attacker planted (a past alert's command line, a ticket), so
// nothing here is ever parsed as HTML: every value is set as text.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const keyName = "hindsight-key";
  let key = sessionStorage.getItem(keyName) || "";
  let current = null; // the draft on show

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  function status(msg, isError) {
    $("status").textContent = msg;
    $("status").className = isError ? "error" : "";
  }

  async function api(method, path, body) {
    const res = await fetch(path, {
      method,
      headers: { "Authorization": "Bearer " + key, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) {
      const e = data.error || {};
      throw new Error((e.field ? e.field + ": " : "") + (e.message || res.status + " " + res.statusText));
    }
    return data;
  }

  // run shows a task's progress, then done or the task's error, in the status line.
  async function run(what, task, done = "") {
    status(what + "…");
    try {
      await task();
      status(done);
    } catch (err) {
      status(err.message, true);
    }
  }

  function showKey() {
    $("key-panel").hidden = key !== "";
    $("work").hidden = key === "";
    $("forget").hidden = key === "";
  }

  function showDraft(d) {
    current = d;
    $("draft-view").hidden = false;
    $("dv-title").textContent = (d.threat && d.threat.title) || d.id;
    $("dv-meta").textContent = [d.id, d.kind, "by " + d.model, d.fallback ? "fall-back: the model was unavailable" : "",
      new Date(d.created_at).toLocaleString()].filter(Boolean).join(" · ");
    const warnings = $("dv-warnings");
    warnings.replaceChildren(...(d.warnings || []).map((w) => el("li", w)));
    $("dv-recs").replaceChildren(...(d.recommendations || []).map((r) => {
      const li = el("li", r.text);
      for (const c of r.citations || []) {
        const a = el("a", "[" + c + "]", "cite");
        a.href = "#src-" + encodeURIComponent(c);
        li.append(a);
      }
      if (!r.supported) li.append(el("span", "unsupported by its sources", "flag"));
      for (const c of r.removed_citations || []) li.append(el("span", "invented citation " + c + " removed", "flag"));
      return li;
    }));
    $("dv-sources").replaceChildren(...(d.sources || []).map((s) => {
      const li = el("li");
      li.id = "src-" + s.id;
      const open = el("button", s.id);
      open.type = "button";
      open.addEventListener("click", () => run("Loading " + s.id, () => showDocument(s)));
      li.append(open, el("span", " " + s.kind + " · " + s.title + " · score " + Number(s.score).toFixed(3)));
      if ((s.flags || []).includes("instructions")) li.append(el("span", "reads like instructions to a model", "flag"));
      return li;
    }));
    $("dv-document").hidden = true;
    $("rv-final").value = d.text || "";
    $("dv-reviews").replaceChildren(...(d.reviews || []).map((r) =>
      el("li", new Date(r.created_at).toLocaleString() + " · accuracy " + r.ratings.accuracy + ", clarity " +
        r.ratings.clarity + ", completeness " + r.ratings.completeness + (r.comment ? " · " + r.comment : ""))));
    $("draft-view").scrollIntoView();
  }

  async function showDocument(src) {
    const doc = await api("GET", "/v1/documents/" + encodeURIComponent(src.id) + "?kind=" + encodeURIComponent(src.kind));
    const parts = [doc.title, doc.summary, (doc.events || []).join("\n"), doc.remediation, doc.hunting, doc.hardening,
      doc.description, doc.body];
    const pre = $("dv-document");
    pre.textContent = src.id + "\n\n" + parts.filter(Boolean).join("\n\n");
    pre.hidden = false;
  }

  async function openDraft(id) {
    showDraft(await api("GET", "/v1/drafts/" + encodeURIComponent(id)));
  }

  document.addEventListener("DOMContentLoaded", () => {
    showKey();
    $("key-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      key = $("key").value.trim();
      sessionStorage.setItem(keyName, key);
      $("key").value = "";
      showKey();
    });
    $("forget").addEventListener("click", () => {
      key = "";
      sessionStorage.removeItem(keyName);
      current = null;
      $("draft-view").hidden = true;
      showKey();
    });
    $("draft-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      run("Drafting", async () => {
        let threat;
        try {
          threat = JSON.parse($("draft-threat").value);
        } catch (err) {
          throw new Error("threat: not JSON: " + err.message);
        }
        const d = await api("POST", "/v1/drafts", { kind: $("draft-kind").value, threat });
        await openDraft(d.id);
      });
    });
    $("open-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      run("Opening", () => openDraft($("open-id").value.trim()));
    });
    $("search-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      run("Searching", async () => {
        const techniques = $("search-techniques").value.split(/[\s,]+/).filter(Boolean);
        const body = { text: $("search-text").value, techniques, k: 10 };
        if ($("search-section").value) body.sections = [$("search-section").value];
        const res = await api("POST", "/v1/search", body);
        $("hits").replaceChildren(...res.hits.map((h) => {
          const li = el("li", h.id + " · " + h.kind + " · " + (h.title || ""));
          const why = h.why || {};
          const signals = Object.entries(why.signals || {}).map(([s, v]) => s + " #" + ((why.ranks || {})[s] || "–") +
            " (" + Number(v).toFixed(3) + ")");
          li.append(el("div", "best in " + (why.section || "–") + "; " + signals.join(", "), "meta"));
          return li;
        }));
        if (res.hits.length === 0) $("hits").replaceChildren(el("li", "no hits"));
      });
    });
    $("review-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      if (!current) return;
      run("Saving the review", async () => {
        await api("POST", "/v1/drafts/" + encodeURIComponent(current.id) + "/reviews", {
          final: $("rv-final").value,
          ratings: {
            accuracy: Number($("rv-accuracy").value),
            clarity: Number($("rv-clarity").value),
            completeness: Number($("rv-completeness").value),
          },
          comment: $("rv-comment").value,
        });
        await openDraft(current.id);
      }, "Review saved.");
    });
  });
})();
