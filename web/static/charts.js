// SPDX-License-Identifier: MIT
// Live charts of one VM, fed by `stats` events (one a second from vmmd):
// rates per second of exits by reason, traps by class and shadow-MMU
// events, each the difference of two samples over their time apart.
"use strict";

VMM.Charts = class {
  constructor() {
    this.window = 60;                  // samples kept: a minute
    this.prev = null;                  // the last stats sample {t, stats}
    this.charts = {};
    this.available = typeof window.Chart === "function";
    const palette = ["#2f6db5", "#d9822b", "#3a9e5c", "#c23b3b", "#8452a8", "#8c6d3f", "#d16fb4",
                     "#6f6f6f", "#a8a833", "#2fb5b5", "#5b4bd1", "#b5572f"];
    this.color = (i) => palette[i % palette.length];
    const note = document.getElementById("charts-note");
    if (!this.available)
      note.textContent = "Chart.js did not load (package libjs-chart.js); the rates are in the VM list.";
    for (const id of ["exits", "traps", "shadow"]) this.make(id);
  }

  make(id) {
    const canvas = document.getElementById("chart-" + id);
    canvas.dataset.points = "0";
    if (!this.available) return;
    this.charts[id] = new window.Chart(canvas, {
      type: "line",
      data: { labels: [], datasets: [] },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false, normalized: true,
        interaction: { mode: "nearest", intersect: false },
        elements: { point: { radius: 0 }, line: { borderWidth: 1.5, tension: 0.2 } },
        scales: { x: { ticks: { maxTicksLimit: 5, maxRotation: 0 } }, y: { beginAtZero: true, ticks: { maxTicksLimit: 5 } } },
        plugins: { legend: { position: "bottom", labels: { boxWidth: 10, font: { size: 10 } } } },
      },
    });
  }

  reset() {
    this.prev = null;
    for (const id of ["exits", "traps", "shadow"]) {
      document.getElementById("chart-" + id).dataset.points = "0";
      const c = this.charts[id];
      if (!c) continue;
      c.data.labels = [];
      c.data.datasets = [];
      c.update();
    }
  }

  // {key: rate} of the counters in two objects (members that are numbers).
  static rates(now, before, dt) {
    const out = {};
    if (!now || !before || !(dt > 0)) return out;
    for (const [k, v] of Object.entries(now))
      if (typeof v === "number" && typeof before[k] === "number" && k !== "total")
        out[k] = Math.max(0, (v - before[k]) / dt);
    return out;
  }

  push(id, label, rates) {
    const canvas = document.getElementById("chart-" + id);
    canvas.dataset.points = String(Number(canvas.dataset.points) + 1);
    const c = this.charts[id];
    if (!c) return;
    c.data.labels.push(label);
    // A series appears once its counter moves, and stays.
    for (const [k, r] of Object.entries(rates)) {
      if (r > 0 && !c.data.datasets.find((d) => d.label === k)) {
        const n = c.data.datasets.length;
        c.data.datasets.push({ label: k, data: new Array(c.data.labels.length - 1).fill(0),
                               borderColor: this.color(n), backgroundColor: this.color(n) });
      }
    }
    for (const d of c.data.datasets) d.data.push(rates[d.label] || 0);
    if (c.data.labels.length > this.window) {
      c.data.labels.shift();
      for (const d of c.data.datasets) d.data.shift();
    }
    c.update("none");
  }

  // One `stats` event of the VM on show.
  sample(timestamp, stats) {
    const prev = this.prev;
    this.prev = { t: timestamp, stats };
    if (!prev) return;
    const dt = timestamp - prev.t;
    if (!(dt > 0)) return;
    const label = VMM.time(timestamp).slice(0, 8);
    this.push("exits", label, VMM.Charts.rates(stats.exits, prev.stats.exits, dt));
    const traps = stats.traps && prev.stats.traps ? VMM.Charts.rates(stats.traps.by_class, prev.stats.traps.by_class, dt) : {};
    this.push("traps", label, traps);
    const sh = stats.shadow && prev.stats.shadow ? VMM.Charts.rates(stats.shadow, prev.stats.shadow, dt) : {};
    for (const k of ["pool_used", "pool_pages"]) delete sh[k];   // gauges, not events
    this.push("shadow", label, sh);
    const note = document.getElementById("charts-note");
    if (this.available)
      note.textContent = stats.traps ? "" : "hw mode: the guest runs under KVM's MMU, so vmmd sees no traps or shadow fills.";
  }
};
