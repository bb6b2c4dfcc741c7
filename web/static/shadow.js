// SPDX-License-Identifier: MIT
// The shadow page-table browser: mmu.shadow's roots (kernel and user, the
// seed's two shadow tables per address space), each as expandable levels
// PML4 > PDPT > PD > PT by the indices of the virtual addresses it maps,
// and at the leaves each shadow entry beside the guest PTE it was built from.
"use strict";

VMM.Shadow = {
  LEVELS: [["PML4", 39n], ["PDPT", 30n], ["PD", 21n], ["PT", 12n]],

  // Tree of {children: Map(index -> node), leaves: [mapping]} by level.
  tree(mappings) {
    const root = { children: new Map(), leaves: [], count: 0 };
    for (const m of mappings) {
      const va = VMM.big(m.virtual);
      // A leaf sits at the level its page size says: 1 GiB at PDPT, 2 MiB at PD.
      const depth = m.size >= 1 << 30 ? 2 : m.size >= 1 << 21 ? 3 : 4;
      let node = root;
      root.count++;
      for (let l = 0; l < depth - 1; l++) {
        const idx = Number((va >> this.LEVELS[l][1]) & 511n);
        if (!node.children.has(idx)) node.children.set(idx, { children: new Map(), leaves: [], count: 0, base: va });
        node = node.children.get(idx);
        node.count++;
      }
      node.leaves.push(m);
    }
    return root;
  },

  // Canonical form of the address an index path starts at.
  canonical(v) {
    return v & (1n << 47n) ? v | 0xffff000000000000n : v;
  },

  leafTable(node, level) {
    const E = VMM.el;
    const rows = node.leaves.map((m) => {
      const gpte = VMM.big(m.guest_pte);
      return E("tr", { class: "sh-leaf" },
        E("td", { class: "mono" }, VMM.hex(m.virtual)),
        E("td", { class: "mono" }, "[" + Number((VMM.big(m.virtual) >> this.LEVELS[level][1]) & 511n) + "]"),
        E("td", { class: "mono", title: "machine frame the real CPU uses" }, VMM.hex(m.machine)),
        E("td", { class: "flags" }, VMM.pteFlags(m.flags, level === 3)),
        E("td", { class: "arrow", "aria-hidden": "true" }, "⇐"),
        E("td", { class: "mono sh-guest", title: "guest PTE at guest-physical " + VMM.hex(m.guest_pte_address) },
          VMM.hex(gpte, 16)),
        E("td", { class: "mono" }, VMM.hex(VMM.pteAddr(gpte))),
        // The guest's entry may sit at another level than the shadow's (a
        // 2 MiB guest page is shadowed by 4 KiB entries): bit 7 read as PS.
        E("td", { class: "flags" }, VMM.pteFlags(gpte, false)),
        E("td", { class: "mono quiet" }, VMM.hex(m.guest_pte_address)));
    });
    return E("table", { class: "sh-leaves" },
      E("thead", {}, E("tr", {},
        E("th", {}, "virtual"), E("th", {}, this.LEVELS[level][0]), E("th", {}, "shadow → machine"),
        E("th", {}, "shadow flags"), E("th", {}, ""), E("th", {}, "guest PTE"), E("th", {}, "→ guest-physical"),
        E("th", {}, "guest flags"), E("th", {}, "PTE at"))),
      E("tbody", {}, ...rows));
  },

  level(node, depth) {
    const E = VMM.el;
    const out = [];
    const indices = [...node.children.keys()].sort((a, b) => a - b);
    for (const idx of indices) {
      const child = node.children.get(idx);
      const [name, shift] = this.LEVELS[depth];
      const start = this.canonical((child.base >> shift) << shift);
      const span = 1n << shift;
      const det = E("details", { class: "sh-level", dataset: { level: name } },
        E("summary", {},
          E("span", { class: "lvl" }, name + "[" + idx + "]"), " ",
          E("span", { class: "mono" }, VMM.hex(start) + "–" + VMM.hex(start + span - 1n)), " ",
          E("span", { class: "quiet" }, child.count + (child.count === 1 ? " mapping" : " mappings"))));
      // Built when opened: a root can hold thousands of entries.
      det.addEventListener("toggle", () => {
        if (!det.open || det.dataset.built) return;
        det.dataset.built = "1";
        if (child.leaves.length) det.appendChild(this.leafTable(child, depth + 1));
        for (const sub of this.level(child, depth + 1)) det.appendChild(sub);
      });
      out.push(det);
    }
    return out;
  },

  render(container, summary, res) {
    const E = VMM.el;
    VMM.clear(container);
    const st = res.stats || {};
    summary.textContent = "strategy " + res.strategy + ": " + (st.fills ?? "-") + " fills, " +
      (st.flushes ?? "-") + " flushes, " + (st.write_protect_faults ?? "-") + " write-protect faults, root cache " +
      (st.cache_hits ?? "-") + " hits / " + (st.cache_misses ?? "-") + " misses, pool " + (st.pool_used ?? "-") +
      " of " + (st.pool_pages ?? "-") + " pages";
    if (!res.roots || !res.roots.length) {
      container.appendChild(E("p", { class: "quiet" }, "No shadow roots yet."));
      return;
    }
    for (const r of res.roots) {
      const t = this.tree(r.mappings || []);
      const det = E("details", { class: "sh-root", dataset: { kind: r.kind } },
        E("summary", {},
          E("span", { class: "lvl" }, r.kind + " root"), " guest CR3 ",
          E("span", { class: "mono" }, VMM.hex(r.guest_cr3)), " → shadow PML4 at machine ",
          E("span", { class: "mono" }, VMM.hex(r.machine)), " ",
          r.current ? E("span", { class: "badge ok" }, "current") : null, " ",
          E("span", { class: "quiet" }, t.count + " mappings" + (r.truncated ? " (more: raise the limit)" : ""))));
      det.addEventListener("toggle", () => {
        if (!det.open || det.dataset.built) return;
        det.dataset.built = "1";
        for (const sub of this.level(t, 0)) det.appendChild(sub);
      });
      container.appendChild(det);
    }
  },

  async load(vm, form, container, summary) {
    const root = form.elements.root.value, limit = form.elements.limit.value;
    summary.textContent = "loading…";
    VMM.clear(container);
    try {
      const res = await VMM.api("mmu.shadow", { name: vm.name, root, limit });
      this.render(container, summary, res);
    } catch (e) {
      summary.textContent = e.cls === "Unsupported" ?
        "hw mode: KVM builds this VM's page tables (EPT/NPT or its own shadow MMU); vmmd has none to show." :
        e.cls + ": " + e.message;
    }
  },
};
