// The deploy board: polls the worker's JSON API and renders it. No framework, no
// network but the worker; every value is set as text, never as HTML.
"use strict";
(function () {
  const API = "/board/api/";
  const SYMBOL = { ok: "✓", fail: "✗", back: "↺", skip: "–", run: "●" };
  let refresh = 3000, timer = null, lastOk = 0;

  function el(tag, attrs, ...kids) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") node.textContent = v; else node.setAttribute(k, v);
    }
    for (const kid of kids.flat()) {
      if (kid === null || kid === undefined || kid === "") continue;
      node.append(kid instanceof Node ? kid : String(kid));
    }
    return node;
  }
  const when = (t) => t ? new Date(t * 1000).toISOString().replace("T", " ").slice(0, 19) + "Z" : "";
  function span(seconds) {
    if (seconds === null || seconds === undefined) return "";
    const s = Math.max(0, Math.round(seconds));
    return s >= 3600 ? `${Math.floor(s / 3600)}h ${Math.floor(s % 3600 / 60)}m`
      : s >= 60 ? `${Math.floor(s / 60)}m ${s % 60}s` : `${s}s`;
  }
  const stateBadge = (d) => el("span", { class: `state ${d.mark}` }, `${SYMBOL[d.mark] || ""} ${d.state}`);
  const place = (d) => [d.account, d.region].filter(Boolean).join(" / ");
  const name = (d) => d.release ? `release ${d.release}` : `${d.cluster || ""}/${d.service || ""}`;
  const serviceLink = (d) => el("a", { href: `#service=${encodeURIComponent(d.target)}` }, name(d));
  const images = (d) => Object.entries(d.images || {}).map(([c, i]) => el("div", {}, el("code", {}, `${c}: ${i}`)));
  const before = (d) => Object.entries(d.images_before || {}).map(([c, i]) => el("div", {}, el("code", {}, `${c}: ${i}`)));
  const minutes = (s) => `${Math.max(0, Math.round(s / 60))} min`;
  function deadline(d) {
    if (!d.timeout) return span(d.elapsed);
    const used = Math.min(d.elapsed, d.timeout);
    return el("span", { class: "deadline", title: d.deadline_at ? `times out at ${when(d.deadline_at)}` : "" },
      el("progress", { max: String(d.timeout), value: String(used), "aria-label": "time used of the deadline" }),
      ` ${minutes(d.elapsed)} of ${minutes(d.timeout)}`);
  }
  const consoleLink = (d) => d.console_url ? el("a", { href: d.console_url, rel: "noreferrer", target: "_blank" }, "ECS console") : "";
  function source(d) {
    const s = d.source || {};
    if (!s.commit && !s.actor) return "";
    const commit = s.commit ? (s.url ? el("a", { href: s.url, rel: "noreferrer" }, s.commit.slice(0, 12)) : el("code", {}, s.commit.slice(0, 12))) : "";
    return [commit, s.actor ? ` by ${s.actor}` : ""];
  }
  function pairs(rows) {
    const dl = el("dl");
    for (const [k, v] of rows) {
      if (v === null || v === undefined || v === "" || (Array.isArray(v) && !v.length)) continue;
      dl.append(el("dt", {}, k), el("dd", {}, v));
    }
    return dl;
  }
  function copyable(label, text) {
    const button = el("button", { type: "button", "aria-label": `Copy ${label}` }, "Copy");
    button.addEventListener("click", () => {
      (navigator.clipboard ? navigator.clipboard.writeText(text) : Promise.reject())
        .then(() => { button.textContent = "Copied"; }, () => { button.textContent = "Select and copy"; });
    });
    return el("div", { class: "command" }, el("pre", { "aria-label": label }, el("code", {}, text)), button);
  }
  function gate(g) {
    if (!g) return "";
    const box = el("div", { class: "gate" }, el("h4", {}, `Gate at ${g.stage}${g.state ? ` (${g.state})` : ""}`));
    if (g.line) box.append(el("p", {}, g.line));
    const m = g.measurements || [];
    if (m.length) {
      box.append(el("table", { class: "measurements" },
        el("caption", { class: "hint" }, "Measurements so far"),
        el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "metric"), el("th", { scope: "col" }, "values"), el("th", { scope: "col" }, "failures"))),
        el("tbody", {}, m.map((x) => el("tr", {}, el("td", {}, x.metric), el("td", {}, (x.values || []).map((v) => v === null ? "no data" : String(v)).join(", ")), el("td", {}, String(x.failures ?? 0)))))));
    }
    if (g.approvers && g.approvers.length) {
      const got = (g.received || []).filter((v) => v.action !== "reject").map((v) => v.principal).filter(Boolean);
      box.append(pairs([
        ["approvers", g.approvers.join(", ")],
        ["received", got.length ? got.join(", ") : "none yet"],
        ["still needed", g.needed !== undefined ? String(g.needed) : ""],
        ["deadline", g.deadline ? `${when(g.deadline)} (in ${span(g.deadline - Date.now() / 1000)})` : ""],
      ]));
      if (g.command) box.append(copyable("approve command", g.command));
    }
    return box;
  }
  function card(d) {
    return el("article", { class: `card ${d.mark}`, "data-deploy-id": d.deploy_id, "aria-label": `${name(d)} ${d.deploy_id}` },
      el("header", {}, el("h3", {}, serviceLink(d)), stateBadge(d)),
      pairs([
        ["where", place(d)], ["deploy", el("code", {}, d.deploy_id)], ["action", d.action],
        ["stage", el("span", { class: "stage" }, d.stage)],
        ["traffic", d.traffic === null ? "" : `${d.traffic} %`],
        ["elapsed", deadline(d)], ["images", images(d)], ["before", before(d)],
        ["deployment", d.deployment ? el("code", {}, d.deployment.split("/").pop()) : ""],
        ["source", source(d)], ["links", consoleLink(d)],
      ]),
      gate(d.gate));
  }
  function table(cls, heads, rows) {
    if (!rows.length) return el("p", { class: "empty" }, "Nothing here.");
    return el("div", { class: "wrap" }, el("table", { class: `stack ${cls}` },
      el("thead", {}, el("tr", {}, heads.map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, rows.map((r) => el("tr", { "data-deploy-id": r.id }, r.cells.map((c, i) => el("td", { "data-label": heads[i], class: heads[i] }, c)))))));
  }
  function evidence(d) {
    if (!d.evidence) return "";
    return el("details", {}, el("summary", {}, "evidence"), el("pre", {}, JSON.stringify(d.evidence, null, 2)));
  }
  function render(doc) {
    const now = doc.now.length ? el("div", { class: "cards" }, doc.now.map(card)) : el("p", { class: "empty" }, "Nothing in flight.");
    document.getElementById("now-body").replaceChildren(now);
    document.getElementById("waiting-body").replaceChildren(table("waiting", ["service", "deploy", "state", "behind", "since"],
      doc.waiting.map((d) => ({ id: d.deploy_id, cells: [serviceLink(d), el("code", {}, d.deploy_id), stateBadge(d), d.behind ? el("code", {}, d.behind) : "", when(d.created_at)] }))));
    document.getElementById("recent-body").replaceChildren(table("recent", ["ended", "service", "deploy", "outcome", "reason", "source", "links"],
      doc.recent.map((d) => ({ id: d.deploy_id, cells: [when(d.updated_at), serviceLink(d), el("code", {}, d.deploy_id), stateBadge(d), [d.reason, evidence(d)], source(d), consoleLink(d)] }))));
    document.getElementById("rejected-body").replaceChildren(table("rejected", ["when", "target", "deploy", "reason", "allowlist needs"],
      doc.rejected.map((d) => ({ id: d.deploy_id, cells: [when(d.updated_at), d.target, el("code", {}, d.deploy_id), el("span", { class: "reason" }, d.reason), d.allowlist_needs] }))));
    for (const k of ["now", "waiting", "recent", "rejected"]) document.getElementById(`${k}-count`).textContent = `(${doc[k].length})`;
  }
  async function service(target) {
    const box = document.getElementById("service");
    const body = document.getElementById("service-body");
    box.hidden = false;
    document.getElementById("service-h").textContent = `Service ${target}`;
    const r = await fetch(`${API}service.json?target=${encodeURIComponent(target)}`, { cache: "no-store" });
    if (!r.ok) { body.replaceChildren(el("p", {}, `Cannot read its history (${r.status}).`)); return; }
    const doc = await r.json();
    const line = el("p", { class: "timeline", "aria-label": "outcomes, oldest first: " + doc.timeline.map((t) => t.state).join(", ") },
      doc.timeline.map((t) => el("span", { class: t.mark, title: `${t.deploy_id}: ${t.state}` }, SYMBOL[t.mark] || "?")));
    body.replaceChildren(line, table("history", ["when", "deploy", "image", "outcome", "duration", "source", "approvers"],
      doc.history.map((d) => ({ id: d.deploy_id, cells: [when(d.created_at), el("code", {}, d.deploy_id), images(d), stateBadge(d), span(d.duration), source(d),
        (d.approved_by || []).join(", ")] }))));
  }
  function route() {
    const m = location.hash.match(/^#service=(.+)$/);
    if (m) { service(decodeURIComponent(m[1])).catch(() => {}); document.getElementById("service").scrollIntoView(); }
    else document.getElementById("service").hidden = true;
  }
  async function poll() {
    clearTimeout(timer);
    const status = document.getElementById("status");
    try {
      const r = await fetch(`${API}board.json`, { cache: "no-store" });
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      const doc = await r.json();
      refresh = Math.max(2000, (doc.refresh_seconds || 3) * 1000);
      render(doc);
      lastOk = Date.now();
      // Only a change of health is announced; the time is shown, not read out each poll.
      status.className = "";
      if (status.textContent) status.textContent = "";
      document.getElementById("updated").textContent = `Updated ${when(doc.generated_at)}.`;
      const m = location.hash.match(/^#service=(.+)$/);
      if (m) await service(decodeURIComponent(m[1]));
    } catch (e) {
      status.className = "stale";
      status.textContent = `Not updated: ${e.message}${lastOk ? `; last update ${span((Date.now() - lastOk) / 1000)} ago` : ""}.`;
    }
    if (!document.hidden) timer = setTimeout(poll, refresh);
  }
  document.addEventListener("visibilitychange", () => { if (!document.hidden) poll(); });
  window.addEventListener("hashchange", route);
  route();
  poll();
})();
