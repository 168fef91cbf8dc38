// ModelFerry dashboard: reads only the app's own JSON endpoints (replicas, runs) and redraws every few seconds.
// No build step, no libraries; every value is written with textContent (never parsed as HTML).
"use strict";
(function () {
  const params = new URLSearchParams(window.location.search);
  const code = params.get("code");        // the function key, as Azure passes it (?code=)
  const source = params.get("source");
  const POLL_MS = Number(params.get("pollMs") || 3000);
  const RUNNING = new Set(["Pending", "Running", "ContinuedAsNew", "Suspended"]);

  function api(path, query) {
    const q = new URLSearchParams(query || {});
    if (code) q.set("code", code);
    if (source && path === "replicas") q.set("source", source);
    const text = q.toString();
    return fetch(path + (text ? "?" + text : ""), { headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (r) {
        return r.json().then(function (body) {
          if (!r.ok) {
            const e = (body && body.error) || {};
            throw new Error((e.code || ("HTTP " + r.status)) + ": " + (e.message || "") + (e.hint ? " — " + e.hint : ""));
          }
          return body;
        });
      });
  }

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(function ([k, v]) { if (v !== undefined && v !== null) node.setAttribute(k, v); });
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function fill(tbody, rows, emptyId) {
    tbody.replaceChildren.apply(tbody, rows);
    const empty = document.getElementById(emptyId);
    if (empty) empty.hidden = rows.length > 0;
  }

  function when(iso) { return iso ? iso.replace("T", " ").replace("Z", " UTC") : "—"; }

  function cellTitle(row, alias, c) {
    const lines = [row.id + " → " + alias + " (" + (c.region || "?") + ")", "state: " + c.state];
    if (c.modelId) lines.push("replica id: " + c.modelId);
    lines.push("verified: " + when(c.verifiedAt));
    if (c.expiresAt) lines.push("expires: " + when(c.expiresAt));
    if (c.reason) lines.push(c.reason);
    if (c.error) lines.push("error: " + (c.error.code || "") + " — " + (c.error.hint || c.error.message || ""));
    return lines.join("\n");
  }

  function drawCatalog(cat) {
    const s = cat.source || {};
    const line = document.getElementById("source-line");
    line.replaceChildren();
    line.append("source " + (s.alias || "?") + " (" + (s.region || "?") + ") ");
    if (s.reachable === false) line.append(el("span", { class: "unreachable", id: "source-unreachable" }, "UNREACHABLE"));
    line.append(" · catalog " + (cat.ageSeconds != null ? cat.ageSeconds + " s old" : "") + " (read " + when(cat.generatedAt) + ")");

    const targets = Object.keys(cat.targets || {});
    const head = el("tr");
    head.append(el("th", {}, "artifact"));
    targets.forEach(function (a) {
      const t = cat.targets[a];
      const th = el("th", { "data-target": a }, a + " (" + t.region + ")");
      if (t.reachable === false) th.append(el("span", { class: "unreachable" }, " unreachable"));
      head.append(th);
    });
    document.querySelector("#matrix thead").replaceChildren(head);
    const rows = (cat.replicas || []).map(function (row) {
      const tr = el("tr", { "data-artifact": row.id, "data-kind": row.kind });
      tr.append(el("td", {}, row.id + (row.kind && row.kind !== "model" ? " (" + row.kind + ")" : "")));
      targets.forEach(function (a) {
        const c = (row.targets || {})[a] || { state: "missing" };
        tr.append(el("td", { class: "cell state-" + c.state, "data-artifact": row.id, "data-target": a,
                             "data-state": c.state, title: cellTitle(row, a, c) }, c.state));
      });
      return tr;
    });
    fill(document.querySelector("#matrix tbody"), rows, "matrix-empty");

    fill(document.querySelector("#expiring tbody"), (cat.expiring || []).map(function (e) {
      const tr = el("tr", { "data-artifact": e.id, "data-target": e.target, class: e.expired ? "expired" : null });
      [e.id, e.target + " (" + e.region + ")", e.modelId, when(e.expiresAt) + (e.expired ? " (expired)" : "")]
        .forEach(function (v) { tr.append(el("td", {}, v)); });
      return tr;
    }), "expiring-empty");
  }

  function progressCell(run) {
    const td = el("td");
    const p = run.progress || {};
    if (run.kind === "sync") {
      Object.entries(p.progress || {}).forEach(function ([alias, t]) {
        const total = t.total || 0, done = t.done || 0;
        const line = el("div", { class: "progress-line", "data-target": alias });
        const bar = el("span", { class: "bar" });
        bar.append(el("span", { style: "width:" + (total ? Math.round(100 * done / total) : 0) + "%" }));
        line.append(alias + " ", bar, " " + done + "/" + total + (t.throttled ? " · 429s: " + t.throttled : ""));
        td.append(line);
      });
      if (p.throughput != null) td.append(el("div", {}, "throughput " + p.throughput + "/min"));
      if (!td.childNodes.length) td.append(p.stage || "starting");
    } else {
      Object.entries(p.targets || {}).forEach(function ([alias, t]) {
        td.append(el("div", { class: "progress-line", "data-target": alias }, alias + ": " + (t.stage || "?")));
      });
      if (!td.childNodes.length) td.append(p.stage || "starting");
    }
    return td;
  }

  function drawRuns(body) {
    const all = body.runs || [];
    const running = all.filter(function (r) { return RUNNING.has(r.runtimeStatus); });
    fill(document.querySelector("#running tbody"), running.map(function (r) {
      const tr = el("tr", { "data-instance": r.instanceId });
      tr.append(el("td", {}, r.instanceId), el("td", {}, r.kind), el("td", {}, r.artifactId || r.source || ""),
                progressCell(r), el("td", {}, when(r.createdTime)));
      return tr;
    }), "running-empty");
    const failed = all.filter(function (r) { return r.error && !RUNNING.has(r.runtimeStatus); }).slice(0, 20);
    fill(document.querySelector("#failures tbody"), failed.map(function (r) {
      const e = r.error || {};
      const what = (r.artifactId || e.artifactId || r.source || "") + (e.target ? " → " + e.target : "");
      const tr = el("tr", { "data-instance": r.instanceId, class: "failure" });
      const err = el("td", { class: "error-code", title: e.message || "" }, e.code || r.outcome);
      tr.append(el("td", {}, when(r.lastUpdatedTime)), el("td", {}, r.kind), el("td", {}, what), err,
                el("td", { class: "error-hint" }, e.hint || e.message || ""));
      return tr;
    }), "failures-empty");
  }

  function problem(err) {
    const p = document.getElementById("problem");
    p.hidden = !err;
    p.textContent = err ? "Could not read the app: " + err.message : "";
  }

  let busy = false;
  function tick(refresh) {
    if (busy) return;
    busy = true;
    Promise.all([api("replicas", refresh ? { refresh: "true" } : {}).then(drawCatalog),
                 api("runs", { since: "7d" }).then(drawRuns)])
      .then(function () { problem(null); document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString(); document.body.setAttribute("data-loaded", "true"); })
      .catch(problem)
      .finally(function () { busy = false; });
  }

  document.getElementById("reread").addEventListener("click", function () { busy = false; tick(true); });
  tick(false);
  setInterval(function () { tick(false); }, POLL_MS);
})();
