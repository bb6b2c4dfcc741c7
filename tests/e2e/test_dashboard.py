#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The dashboard in a real browser: headless Chromium driven through
chromedriver by python3-selenium (Debian packages, scripts/deps), against
vmmweb and a real vmmd running a shadow-mode minios (processes with their
own page tables) and a VM with an odd name whose guest prints markup.
Checks the VM list, a live chart updating from /events, the shadow-table
browser expanded down to guest PTEs, the page-walk view with its
reference counts, registers, the console and the event log, that nothing
guest- or client-controlled becomes HTML, the layout at 1280x800 and on a
phone, and a vmmweb with only vmmd's monitor role saying what its debug
views need. Screenshots go to $B/web-shots/ (docs/dashboard.md shows one)."""

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmmtest  # noqa: E402
import webtest  # noqa: E402
from vmmtest import check, kvm, show  # noqa: E402

SHOTS = os.path.join(vmmtest.B, "web-shots")
SHADOW_VM = "minios-sh"
ODD_VM = "0dd.name-_x"                       # every kind of character a VM name may hold
MARKUP = "<img src=x onerror=window.__xss=1><b id=injected>bold</b>"
CHROME_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1280,800"]


def browser(d):
    sel = webtest.selenium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    chromium = webtest.tool("chromium", "chromium")
    driver = webtest.tool("chromedriver", "chromium-driver")
    o = webdriver.ChromeOptions()
    for a in CHROME_FLAGS + ["--user-data-dir=" + os.path.join(d.tmp, "chrome-profile")]:
        o.add_argument(a)
    o.binary_location = chromium
    o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    del sel
    return webdriver.Chrome(service=Service(driver, log_output=os.path.join(d.tmp, "chromedriver.log"))
                            if "log_output" in Service.__init__.__code__.co_varnames
                            else Service(driver, log_path=os.path.join(d.tmp, "chromedriver.log")), options=o)


def wait(drv, fn, timeout, what):
    return vmmtest.wait_for(lambda: fn(drv), timeout, 0.1, what)


def shot(drv, name):
    os.makedirs(SHOTS, exist_ok=True)
    path = os.path.join(SHOTS, name + ".png")
    drv.save_screenshot(path)
    return path


def js(drv, code, *args):
    return drv.execute_script(code, *args)


@kvm
def test_dashboard_in_chromium(d):
    d.run_vm(SHADOW_VM, "minios", 'script="pingpong 1000000"', paging="shadow", memory_mib=32)
    d.run_vm(ODD_VM, "hello", "exit=0 " + MARKUP)
    d.wait_state(ODD_VM, "stopped")
    w = webtest.web(d)
    drv = browser(d)
    from selenium.webdriver.common.by import By
    try:
        drv.get(w.base + "/")
        # The VM list: both VMs, the odd name as text.
        rows = wait(drv, lambda b: len(b.find_elements(By.CSS_SELECTOR, "#vms tbody tr")) >= 2 and
                    b.find_elements(By.CSS_SELECTOR, "#vms tbody tr"), 15, "the VM list")
        names = [r.find_element(By.CSS_SELECTOR, "td.name").text for r in rows]
        check(SHADOW_VM in names and ODD_VM in names, "VM list names: %s" % names)
        odd = drv.find_element(By.CSS_SELECTOR, "tr[data-vm='%s']" % ODD_VM)
        check("stopped" in odd.text and "hw" in odd.text, "the odd VM's row: %r" % odd.text)
        wait(drv, lambda b: b.find_element(By.ID, "link").text == "vmmd connected", 10, "the connected badge")
        wait(drv, lambda b: re.match(r"^\d", b.find_element(By.CSS_SELECTOR, "tr[data-vm='%s'] td.rate-traps" %
                                                            SHADOW_VM).text), 10, "a live trap rate in the list")

        # A live chart: points arrive from stats events, once a second.
        drv.find_element(By.CSS_SELECTOR, "tr[data-vm='%s']" % SHADOW_VM).click()
        canvas = drv.find_element(By.ID, "chart-traps")
        wait(drv, lambda b: int(canvas.get_attribute("data-points")) >= 2, 15, "two points on the traps chart")
        n1 = int(canvas.get_attribute("data-points"))
        wait(drv, lambda b: int(canvas.get_attribute("data-points")) > n1, 5, "the traps chart to update")
        sets = js(drv, "const c = Chart.getChart(document.getElementById('chart-traps'));"
                       "return c ? c.data.datasets.map(d => d.label) : null;")
        check(sets and "privileged" in sets, "Chart.js drew trap classes: %s" % sets)
        check(js(drv, "return Chart.getChart(document.getElementById('chart-exits')).data.datasets.length") > 0,
              "the exits chart has series")
        shot(drv, "dashboard-charts")

        # The shadow browser: user roots exist (minios processes), expand one to the leaves.
        drv.find_element(By.CSS_SELECTOR, "button[data-tab=shadow]").click()
        roots = wait(drv, lambda b: b.find_elements(By.CSS_SELECTOR, "details.sh-root"), 10, "shadow roots")
        kinds = {r.get_attribute("data-kind") for r in roots}
        check(kinds == {"kernel", "user"}, "kernel and user roots: %s" % kinds)
        # A user root that maps something (a process that has not run yet has an empty one).
        user = [r for r in roots if r.get_attribute("data-kind") == "user" and
                int(re.search(r"(\d+) mappings", r.find_element(By.TAG_NAME, "summary").text).group(1)) > 0][0]
        user.find_element(By.TAG_NAME, "summary").click()

        # A level's children are built by its "toggle" listener, which the browser
        # runs as a task of its own after the click: on a loaded machine the next
        # query can come first and see nothing new. So each poll either finds the
        # leaves or opens the next closed level, until the leaves are built.
        def open_down_to_leaves(b):
            leaves = user.find_elements(By.CSS_SELECTOR, "tr.sh-leaf")
            if leaves:
                return leaves
            closed = [s for s in user.find_elements(By.CSS_SELECTOR, "details.sh-level:not([open]) > summary")
                      if s.is_displayed()]
            if closed:
                closed[0].click()
            return None
        leaves = wait(drv, open_down_to_leaves, 15, "shadow entries")
        cells = leaves[0].find_elements(By.TAG_NAME, "td")
        check(re.match(r"^0x[0-9a-f]{16}$", cells[5].text), "a guest PTE beside the shadow entry: %s" %
              [c.text for c in cells])
        check(int(cells[0].text, 16) >= 0x8000000000, "user pages in the user root: %s" % cells[0].text)
        levels = [e.get_attribute("data-level") for e in user.find_elements(By.CSS_SELECTOR, "details.sh-level[open]")]
        check(levels[:3] == ["PML4", "PDPT", "PD"], "levels opened down to the PT: %s" % levels)
        shot(drv, "dashboard-shadow")

        # The page walk: the vCPU's RIP, each level drawn, 24 references nested.
        drv.find_element(By.CSS_SELECTOR, "button[data-tab=walk]").click()
        res = wait(drv, lambda b: b.find_elements(By.CSS_SELECTOR, "#walk-result .walk-grid"), 10, "the page walk")
        steps = drv.find_elements(By.CSS_SELECTOR, "#walk-result li.walk-step")
        check(len(steps) >= 4, "CR3, the levels and the page: %s" % [s.text for s in steps])
        one, two = drv.find_element(By.CSS_SELECTOR, ".ref-1d").text, drv.find_element(By.CSS_SELECTOR, ".ref-2d").text
        check(one in ("2", "3", "4") and int(two) == int(one) * 5 + 4, "references 1-D %s, 2-D %s" % (one, two))
        check(res[0].get_attribute("data-count") == two, "the grid draws every nested reference")
        form = drv.find_element(By.ID, "walk-form")
        addr = form.find_element(By.NAME, "addr")
        addr.clear()
        addr.send_keys("0x8000000000")
        form.find_element(By.TAG_NAME, "button").click()
        wait(drv, lambda b: "0x0000008000000000" in b.find_element(By.ID, "walk-result").text, 10, "a second walk")
        shot(drv, "dashboard-walk")

        # Registers and the guest PCB.
        drv.find_element(By.CSS_SELECTOR, "button[data-tab=regs]").click()
        regs = wait(drv, lambda b: b.find_element(By.ID, "regs-result").text, 10, "registers")
        check("rip" in regs and "guest PCB (pcb)" in regs and "page_table_base" in regs, "registers: %s" % regs[:400])

        # The event log: a pause shows up, and the list follows.
        d.call("vm.pause", {"name": SHADOW_VM})
        wait(drv, lambda b: "paused (was running)" in b.find_element(By.ID, "event-log").text, 10, "the pause in the log")
        wait(drv, lambda b: "paused" in b.find_element(By.CSS_SELECTOR, "tr[data-vm='%s']" % SHADOW_VM).text, 10,
             "the list's state")
        d.call("vm.resume", {"name": SHADOW_VM})

        # The console of the odd VM: the guest's markup as text, nothing injected.
        drv.find_element(By.CSS_SELECTOR, "tr[data-vm='%s']" % ODD_VM).click()
        drv.find_element(By.CSS_SELECTOR, "button[data-tab=console]").click()
        text = wait(drv, lambda b: MARKUP in b.find_element(By.ID, "console").text and
                    b.find_element(By.ID, "console").text, 10, "the console tail")
        check("Hello from vmmd guest!" in text, "the guest's output: %r" % text[:300])
        check(not drv.find_elements(By.ID, "injected") and not drv.find_elements(By.CSS_SELECTOR, "img[src=x]"),
              "the guest's markup stayed text")
        check(js(drv, "return window.__xss === undefined"), "no guest script ran")
        title = drv.find_element(By.ID, "detail-title").text
        check(title.startswith(ODD_VM + " ("), "the odd name in the title: %r" % title)
        shot(drv, "dashboard-console")

        # 1280x800: everything fits across; a phone: one column, readable.
        check(js(drv, "return document.documentElement.scrollWidth <= window.innerWidth"), "no sideways scroll at 1280")
        drv.find_element(By.CSS_SELECTOR, "tr[data-vm='%s']" % SHADOW_VM).click()
        drv.find_element(By.CSS_SELECTOR, "button[data-tab=charts]").click()
        wait(drv, lambda b: int(canvas.get_attribute("data-points")) >= 6, 15, "six points for the overview shot")
        shot(drv, "dashboard-1280x800")
        drv.set_window_size(390, 844)
        time.sleep(0.5)
        check(js(drv, "return document.documentElement.scrollWidth <= window.innerWidth + 1"),
              "no sideways scroll on a phone")
        check(js(drv, "const a = document.getElementById('vms-panel').getBoundingClientRect(),"
                      " b = document.getElementById('detail').getBoundingClientRect(); return b.top >= a.bottom"),
              "one column on a phone")
        shot(drv, "dashboard-phone")
        errors = [e for e in drv.get_log("browser") if e.get("level") == "SEVERE"]
        check(not errors, "no errors in the page: %s" % show(errors))
    finally:
        drv.quit()
        d.call("vm.stop", {"name": SHADOW_VM, "force": True})


def test_monitor_dashboard_says_what_it_needs(d):
    """A vmmweb with vmmd's `monitor` role (nobody, vmmd's default for
    others): the list and the charts work, and the views of the guest's
    own data (registers, walks, shadow tables, console) say they need the
    debug role instead of failing."""
    if d.rpc("vm.info", {"name": "mon-vm"}).get("error"):
        d.create("mon-vm", "hello", "password=hunter2")
    w = webtest.web_as(d, 65534)
    drv = None
    try:
        w.wait_ready()
        drv = browser(d)
        from selenium.webdriver.common.by import By
        drv.get(w.base + "/")
        row = wait(drv, lambda b: b.find_elements(By.CSS_SELECTOR, "tr[data-vm='mon-vm']"), 15, "the VM list")
        row[0].click()
        wait(drv, lambda b: "locked" in b.find_element(By.CSS_SELECTOR, "button[data-tab=regs]").get_attribute("class"),
             10, "the registers tab greyed out")
        for tab, pane in (("regs", "regs-result"), ("console", "console"), ("walk", "walk-result"),
                          ("shadow", "shadow-tree")):
            drv.find_element(By.CSS_SELECTOR, "button[data-tab=%s]" % tab).click()
            text = wait(drv, lambda b: b.find_element(By.ID, pane).text, 10, "the %s view's text" % tab)
            check("needs the debug role" in text and "monitor" in text, "the %s view says why: %r" % (tab, text))
        check("hunter2" not in drv.page_source, "no command line on the page")
        check("locked" not in drv.find_element(By.CSS_SELECTOR, "button[data-tab=charts]").get_attribute("class"),
              "the charts are monitor's")
        shot(drv, "dashboard-monitor")
        errors = [e for e in drv.get_log("browser") if e.get("level") == "SEVERE"]
        check(not errors, "no errors in the page: %s" % show(errors))
    finally:
        if drv:
            drv.quit()
        w.stop()


if __name__ == "__main__":
    vmmtest.main()
