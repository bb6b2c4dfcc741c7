// SPDX-License-Identifier: MIT
// The dashboard: the VM list (vm.list, kept fresh by `state` events and
// given live rates by `stats` events from /events), one VM in detail
// (charts, shadow tables, page walk, registers, console) and the event log.
"use strict";

(function () {
  const E = VMM.el;
  const vms = new Map();       // name -> {info, prev: {t, exits, traps, fills}, rates, row}
  let selected = null;         // name of the VM in detail
  let tab = "charts";
  let charts = null;
  let consoleOffset = 0, consoleTimer = null;
  const LOG_MAX = 200, CONSOLE_KEEP = 65536;
  // The views that read the guest itself, and the method each needs: vmmd
  // gives them to its `debug` role only. GET /api/ says which vmmweb may call.
  const TAB_METHODS = { shadow: "mmu.shadow", walk: "mmu.translate", regs: "vcpu.state", console: "vm.console.read" };
  let access = { role: null, needs: {} };

  async function refreshAccess() {
    try {
      const a = await VMM.api("");
      access = { role: a.role || null, needs: a.needs || {} };
    } catch (e) {
      return;
    }
    for (const b of document.querySelectorAll("#tabs button")) {
      const needs = access.needs[TAB_METHODS[b.dataset.tab]];
      b.classList.toggle("locked", !!needs);
      b.title = needs ? "needs vmmd's " + needs + " role; vmmweb has " + (access.role || "?") : "";
    }
    if (selected) showTab(tab);
  }

  // The view's text when vmmweb's role may not fill it; null when it may.
  function lockedText(name) {
    const needs = access.needs[TAB_METHODS[name]];
    if (!needs) return null;
    return "This view needs the " + needs + " role: vmmd gives vmmweb " + (access.role || "another role") +
      ". Command lines, console output, registers and page tables are the guest's own data; " +
      "an operator can give vmmweb's user the " + needs + " role in vmmd's access rules (docs/operations.md).";
  }

  function logEvent(p, text) {
    const list = document.getElementById("event-log");
    list.insertBefore(E("li", { class: "ev ev-" + (p.type || "x") },
      E("time", {}, VMM.time(p.timestamp || Date.now() / 1000)), " ",
      E("span", { class: "ev-vm" }, p.vm || "vmmd"), " ",
      E("span", { class: "ev-type" }, p.type || ""), " ", text), list.firstChild);
    while (list.childNodes.length > LOG_MAX) list.removeChild(list.lastChild);
  }

  function sum(o) {
    return o ? Object.entries(o).reduce((a, [k, v]) => a + (k !== "total" && typeof v === "number" ? v : 0), 0) : 0;
  }

  function uptimeOf(v) {
    const live = v.info.state === "running" || v.info.state === "paused";
    return live ? v.info.uptime_s + (Date.now() - v.seenAt) / 1000 : null;
  }

  // A row is built once per VM and its cells updated in place, so what the
  // user points at (or a script holds) stays put while rates tick.
  function renderRow(v) {
    const i = v.info, r = v.rates || {};
    if (!v.row) {
      v.cells = {};
      const cell = (key, cls) => (v.cells[key] = E("td", { class: cls }));
      v.row = E("tr", { class: "vm", tabindex: "0", dataset: { vm: i.name } },
        cell("name", "name"), cell("state"), cell("paging"), cell("uptime", "uptime"),
        cell("exits", "num rate-exits"), cell("traps", "num rate-traps"), cell("fills", "num rate-fills"));
      v.row.addEventListener("click", () => select(i.name));
      v.row.addEventListener("keydown", (e) => { if (e.key === "Enter") select(i.name); });
    }
    const c = v.cells;
    c.name.textContent = i.name;
    VMM.clear(c.state).appendChild(E("span", { class: "state st-" + i.state }, i.state));
    c.paging.textContent = i.paging;
    c.uptime.textContent = VMM.uptime(uptimeOf(v));
    c.exits.textContent = VMM.rate(r.exits);
    c.traps.textContent = i.paging === "shadow" ? VMM.rate(r.traps) : "–";
    c.fills.textContent = i.paging === "shadow" ? VMM.rate(r.fills) : "–";
    v.row.classList.toggle("selected", i.name === selected);
    v.row.setAttribute("aria-selected", i.name === selected ? "true" : "false");
    return v.row;
  }

  function renderList() {
    const body = VMM.clear(document.querySelector("#vms tbody"));
    const names = [...vms.keys()].sort();
    for (const n of names) body.appendChild(renderRow(vms.get(n)));
    document.getElementById("vms-empty").hidden = names.length > 0;
    const by = {};
    for (const v of vms.values()) by[v.info.state] = (by[v.info.state] || 0) + 1;
    document.getElementById("summary").textContent = names.length + " VMs" +
      Object.entries(by).map(([s, n]) => ", " + n + " " + s).join("");
  }

  async function refreshList() {
    let res;
    try {
      res = await VMM.api("vm.list");
    } catch (e) {
      document.getElementById("summary").textContent = e.cls + ": " + e.message;
      return;
    }
    const seen = new Set();
    for (const info of res.vms || []) {
      seen.add(info.name);
      const v = vms.get(info.name) || {};
      v.info = info;
      v.seenAt = Date.now();
      vms.set(info.name, v);
    }
    for (const n of [...vms.keys()]) if (!seen.has(n)) vms.delete(n);
    renderList();
    if (selected && !vms.has(selected)) select(null);
  }

  function onStats(p) {
    const v = vms.get(p.vm);
    const s = p.data || {};
    if (v) {
      const now = { t: p.timestamp, exits: s.exits_total || sum(s.exits),
                    traps: s.traps ? s.traps.total : 0, fills: s.shadow ? s.shadow.fills : 0 };
      if (v.prev && now.t > v.prev.t) {
        const dt = now.t - v.prev.t;
        v.rates = { exits: (now.exits - v.prev.exits) / dt, traps: (now.traps - v.prev.traps) / dt,
                    fills: (now.fills - v.prev.fills) / dt };
        renderRow(v);
      }
      v.prev = now;
    }
    if (p.vm === selected && charts) charts.sample(p.timestamp, s);
  }

  function onState(p) {
    const d = p.data || {};
    let text = d.state ? d.state + (d.previous ? " (was " + d.previous + ")" : "") : JSON.stringify(d);
    if (d.exit) text += ": " + (d.exit.reason || "") + (d.exit.code !== undefined ? " code " + d.exit.code : "");
    logEvent(p, text);
    const v = vms.get(p.vm);
    if (v && d.state) {
      v.info.state = d.state;
      if (d.state === "running" && d.previous !== "paused") { v.info.uptime_s = 0; v.seenAt = Date.now(); }
      v.rates = null;
      v.prev = null;
      renderRow(v);
    }
    // New, destroyed or restarted VMs: the list says which.
    refreshList();
  }

  function connectEvents() {
    const es = new EventSource("/events?topic=state&topic=stats&topic=fault");
    const badge = document.getElementById("link");
    const parse = (e) => { try { return VMM.parseJson(e.data); } catch (x) { return null; } };
    es.addEventListener("vmmd", (e) => {
      const d = parse(e) || {};
      badge.textContent = d.connected ? "vmmd connected" : "vmmd not connected";
      badge.className = "badge " + (d.connected ? "ok" : "bad");
      if (d.connected) { refreshList(); refreshAccess(); }
    });
    es.addEventListener("stats", (e) => { const p = parse(e); if (p) onStats(p); });
    es.addEventListener("state", (e) => { const p = parse(e); if (p) onState(p); });
    for (const t of ["crash", "reset"])
      es.addEventListener(t, (e) => {
        const p = parse(e);
        if (p) logEvent(p, (p.data && (p.data.message || p.data.reason)) || "");
      });
    es.onerror = () => {
      badge.textContent = "vmmweb unreachable, retrying";
      badge.className = "badge bad";
    };
  }

  // --- detail ----------------------------------------------------------------

  function showTab(name) {
    tab = name;
    for (const b of document.querySelectorAll("#tabs button"))
      b.setAttribute("aria-selected", b.dataset.tab === name ? "true" : "false");
    for (const t of document.querySelectorAll(".tab")) t.hidden = t.id !== "tab-" + name;
    const v = vms.get(selected);
    if (!v) return;
    const targets = { shadow: "shadow-tree", walk: "walk-result", regs: "regs-result", console: "console" };
    const locked = lockedText(name);
    if (locked && targets[name]) {
      if (name === "shadow") document.getElementById("shadow-summary").textContent = "";
      VMM.clear(document.getElementById(targets[name])).appendChild(E("p", { class: "quiet locked" }, locked));
      stopConsole();
      return;
    }
    delete targets.console;
    // Registers, tables and walks exist only while the VM has a worker.
    const live = v.info.state === "running" || v.info.state === "paused";
    if (targets[name] && !live) {
      if (name === "shadow") document.getElementById("shadow-summary").textContent = "";
      VMM.clear(document.getElementById(targets[name])).appendChild(
        E("p", { class: "quiet" }, "The VM is " + v.info.state + ": nothing to read until it runs."));
      stopConsole();
      return;
    }
    if (name === "shadow") VMM.Shadow.load(v.info, document.getElementById("shadow-form"),
      document.getElementById("shadow-tree"), document.getElementById("shadow-summary"));
    if (name === "walk") VMM.Walk.load(v.info, document.getElementById("walk-form"), document.getElementById("walk-result"));
    if (name === "regs") loadRegs();
    if (name === "console") startConsole();
    else stopConsole();
  }

  function select(name) {
    selected = name;
    for (const v of vms.values()) if (v.row) renderRow(v);
    const d = document.getElementById("detail");
    d.hidden = !name;
    stopConsole();
    if (!name) return;
    const v = vms.get(name);
    document.getElementById("detail-title").textContent = name + " (" + v.info.paging + " mode, " +
      v.info.vcpus + " vCPU, " + v.info.memory_mib + " MiB)";
    document.getElementById("walk-form").elements.addr.value = "";
    VMM.clear(document.getElementById("console"));
    consoleOffset = 0;
    charts.reset();
    showTab(tab);
  }

  function kv(obj, skip) {
    const rows = [];
    for (const [k, v] of Object.entries(obj || {})) {
      if (skip && skip.includes(k)) continue;
      let text;
      if (v !== null && typeof v === "object") text = JSON.stringify(v);
      else if ((typeof v === "number" && Number.isInteger(v) && v > 9) || (typeof v === "string" && /^\d{16,}$/.test(v)))
        text = VMM.hex(v);
      else text = String(v);
      rows.push(E("tr", {}, E("th", {}, k), E("td", { class: "mono" }, text)));
    }
    return E("table", { class: "kv" }, E("tbody", {}, ...rows));
  }

  async function loadRegs() {
    const out = VMM.clear(document.getElementById("regs-result"));
    const vcpu = document.getElementById("regs-form").elements.vcpu.value || 0;
    try {
      const st = await VMM.api("vcpu.state", { name: selected, vcpu });
      const gpr = E("div", { class: "regs" });
      for (const [k, v] of Object.entries(st.regs || {}))
        gpr.appendChild(E("div", { class: "reg" }, E("span", { class: "rn" }, k), E("span", { class: "mono" }, VMM.hex(v, 16))));
      const sregs = {};
      for (const k of ["cr0", "cr2", "cr3", "cr4", "cr8", "efer", "apic_base"]) if (k in (st.sregs || {})) sregs[k] = st.sregs[k];
      out.appendChild(E("h3", {}, "vCPU " + st.vcpu + " (" + st.mode + " mode" + (st.mp_state ? ", " + st.mp_state : "") +
        (st.paused ? ", paused" : "") + ")"));
      out.appendChild(gpr);
      out.appendChild(E("div", { class: "cols" },
        E("div", {}, E("h3", {}, "control registers"), kv(sregs)),
        E("div", {}, E("h3", {}, "guest PCB (" + ((st.pcb || {}).source || "?") + ")"), kv(st.pcb))));
      if (st.real) out.appendChild(E("details", {}, E("summary", {}, "the real CPU (CPL3 on a shadow root)"), kv(st.real.regs), kv(st.real.sregs)));
    } catch (e) {
      out.appendChild(E("p", { class: "error" }, e.cls + ": " + e.message));
    }
  }

  async function pollConsole() {
    const pre = document.getElementById("console");
    const name = selected;
    try {
      for (let i = 0; i < 16; i++) {
        const r = await VMM.api("vm.console.read", { name, offset: consoleOffset, max: 65536 });
        if (name !== selected) return;
        if (r.start > consoleOffset) consoleOffset = r.start;   // what the ring dropped
        if (!r.data) break;
        const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
        pre.appendChild(document.createTextNode(VMM.consoleText(r.data)));
        consoleOffset = r.offset;
        while (pre.textContent.length > CONSOLE_KEEP && pre.firstChild) pre.removeChild(pre.firstChild);
        if (atEnd) pre.scrollTop = pre.scrollHeight;
      }
    } catch (e) {
      pre.appendChild(document.createTextNode("\n[" + e.cls + ": " + e.message + "]\n"));
      stopConsole();
    }
  }

  function startConsole() {
    stopConsole();
    pollConsole();
    consoleTimer = setInterval(pollConsole, 2000);
  }

  function stopConsole() {
    if (consoleTimer) clearInterval(consoleTimer);
    consoleTimer = null;
  }

  function init() {
    charts = new VMM.Charts();
    for (const b of document.querySelectorAll("#tabs button")) b.addEventListener("click", () => showTab(b.dataset.tab));
    const submit = (id, fn) => document.getElementById(id).addEventListener("submit", (e) => { e.preventDefault(); fn(); });
    submit("shadow-form", () => showTab("shadow"));
    submit("walk-form", () => showTab("walk"));
    submit("regs-form", () => showTab("regs"));
    refreshList();
    refreshAccess();
    connectEvents();
    // Uptimes tick here; the list is read again now and then for what events do not say.
    setInterval(() => { for (const v of vms.values()) if (v.cells) v.cells.uptime.textContent = VMM.uptime(uptimeOf(v)); }, 1000);
    setInterval(refreshList, 15000);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
