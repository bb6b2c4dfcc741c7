// SPDX-License-Identifier: MIT
// The page-walk view of mmu.translate: each level of the guest's walk drawn
// as a table read (table, index, entry, flags) leading to the next, then
// the memory references a TLB miss costs: one per level with shadow tables
// or natively (4 for a 4 KiB page), and the 2-D walk under nested paging,
// where every guest table address is itself translated through the host's
// tables first: g·(n+1)+n, 24 for 4-level guest and host tables.
"use strict";

VMM.Walk = {
  steps(res) {
    const E = VMM.el;
    const box = E("ol", { class: "walk-steps" });
    box.appendChild(E("li", { class: "walk-step cr3" },
      E("span", { class: "lvl" }, "CR3"), " ", E("span", { class: "mono" }, VMM.hex(res.cr3))));
    for (const s of res.walk || []) {
      const leaf = (s.flags || []).includes("PS") || s.level === 1;
      box.appendChild(E("li", { class: "walk-step", dataset: { level: s.level } },
        E("span", { class: "lvl" }, s.name), " table ", E("span", { class: "mono" }, VMM.hex(s.table)),
        " [", E("span", { class: "mono" }, String(s.index)), "] at ", E("span", { class: "mono" }, VMM.hex(s.address)),
        " → entry ", E("span", { class: "mono" }, s.entry === null ? "-" : VMM.hex(s.entry, 16)), " ",
        E("span", { class: "flags" }, (s.flags || []).join(" ") || "not present"),
        leaf && res.mapped ? E("span", { class: "quiet" }, " (leaf)") : null));
    }
    if (res.mapped) {
      box.appendChild(E("li", { class: "walk-step result" },
        E("span", { class: "lvl" }, "page"), " ", (res.page_size / 1024 >= 1024 ? (res.page_size / 1048576) + " MiB" :
          (res.page_size / 1024) + " KiB"), ", rights ", E("span", { class: "mono" }, res.rights || "-"),
        ": guest-physical ", E("span", { class: "mono" }, VMM.hex(res.physical)),
        " → machine ", E("span", { class: "mono" }, VMM.hex(res.machine))));
    } else {
      const f = res.fault || {};
      box.appendChild(E("li", { class: "walk-step fault" },
        "not mapped: " + (f.reason || "?") + " at level " + (f.level ?? "?")));
    }
    return box;
  },

  // The 2-D walk as a grid: a row per guest level (n host reads to find
  // the guest table, then the guest entry), and a last row for the data.
  grid(res) {
    const E = VMM.el;
    const ref = res.references || {};
    const g = ref.guest_levels || (res.walk || []).length, n = ref.nested_levels || 4;
    const grid = E("div", { class: "walk-grid", role: "img",
      "aria-label": (ref.nested_2d ?? "?") + " memory references under nested paging" });
    grid.style.gridTemplateColumns = "auto repeat(" + (n + 1) + ", minmax(2.2em, 1fr))";
    let count = 0;
    const names = (res.walk || []).map((s) => s.name);
    for (let i = 0; i <= g; i++) {
      const last = i === g;
      if (last && !res.mapped) break;   // a walk that stopped never reads the data
      grid.appendChild(E("span", { class: "row-label" }, last ? "data gPA" : (names[i] || "L" + (g - i)) + " gPA"));
      for (let j = 0; j < n; j++) {
        count++;
        grid.appendChild(E("span", { class: "cell host", title: "host table level " + (n - j) }, String(count)));
      }
      if (last) {
        grid.appendChild(E("span", { class: "cell none" }, ""));
      } else {
        count++;
        grid.appendChild(E("span", { class: "cell guest", title: "the guest entry itself" }, String(count)));
      }
    }
    grid.dataset.count = String(count);
    return grid;
  },

  render(container, res) {
    const E = VMM.el;
    VMM.clear(container);
    const ref = res.references || {};
    container.appendChild(E("p", {},
      "virtual ", E("span", { class: "mono" }, VMM.hex(res.virtual, 16)), " on vCPU " + res.vcpu + ", " +
      res.paging + " paging, " + res.mode + " mode"));
    container.appendChild(this.steps(res));
    const refs = E("div", { class: "walk-refs" },
      E("p", {}, E("strong", { class: "ref-1d" }, String(ref.shadow_or_native ?? "-")),
        " memory references on a TLB miss with shadow tables or natively (one per level read)"),
      E("p", {}, E("strong", { class: "ref-2d" }, String(ref.nested_2d ?? "-")),
        " under nested paging with " + (ref.nested_levels ?? "?") + "-level host tables: each guest table's " +
        "address is translated by the host first (blue), then read (orange)"));
    refs.appendChild(this.grid(res));
    container.appendChild(refs);
    if (res.shadow) {
      const s = res.shadow;
      container.appendChild(E("p", { class: "walk-shadow" },
        "vmmd's shadow: the " + s.root + " root at machine ", E("span", { class: "mono" }, VMM.hex(s.root_machine)),
        s.present ? [" maps it to machine ", E("span", { class: "mono" }, VMM.hex(s.machine)),
          " (", E("span", { class: "flags" }, VMM.pteFlags(s.entry_flags)), "): ",
          String(s.references ?? 4) + " references, the real CPU's walk"] :
          " has no entry for it yet: the next access faults and vmmd fills it"));
    }
  },

  async load(vm, form, container) {
    let addr = form.elements.addr.value.trim();
    const vcpu = form.elements.vcpu.value || 0;
    VMM.clear(container).appendChild(VMM.el("p", { class: "quiet" }, "walking…"));
    try {
      if (!addr) {
        // Where the vCPU is: its instruction pointer.
        const st = await VMM.api("vcpu.state", { name: vm.name, vcpu });
        addr = VMM.hex(st.regs.rip);
        form.elements.addr.value = addr;
      }
      if (!/^(0x[0-9a-fA-F]{1,16}|[0-9]{1,20})$/.test(addr)) throw Object.assign(new Error("not an address: " + addr), { cls: "Input" });
      this.render(container, await VMM.api("mmu.translate", { name: vm.name, addr, vcpu }));
    } catch (e) {
      VMM.clear(container).appendChild(VMM.el("p", { class: "error" }, e.cls + ": " + e.message));
    }
  },
};
