#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""events.subscribe: state and console notifications on a raw connection,
their shape, order and timestamps, and filtering by VM name."""

import base64
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmmtest  # noqa: E402
from vmmtest import check, expect_error, kvm, result_of, show  # noqa: E402

INVALID_PARAMS = -32602


def subscribe(d, topics, name=None):
    c = d.connect()
    params = {"topics": topics}
    if name is not None:
        params["name"] = name
    r = result_of(c.call("events.subscribe", params), "events.subscribe %s" % show(params))
    got = r.get("subscribed")
    check(isinstance(got, list) and set(topics) <= set(got),
          "events.subscribe must answer subscribed: %s, got %s" % (show(topics), show(r)))
    return c


def event_params(n):
    """Check one notification's envelope; return its params."""
    check(n.get("jsonrpc") == "2.0" and n.get("method") == "event" and "id" not in n,
          "a notification is {jsonrpc: 2.0, method: event, params} without id: %s" % show(n))
    p = n.get("params")
    check(isinstance(p, dict), "event params must be an object: %s" % show(n))
    for k in ("vm", "type", "data", "timestamp"):
        check(k in p, "event params need %s: %s" % (k, show(p)))
    check(isinstance(p["timestamp"], (int, float)) and not isinstance(p["timestamp"], bool),
          "timestamp must be seconds since the epoch (a number): %s" % show(p))
    return p


def collect(c, until, timeout=30.0, what="events"):
    """Notifications' params until until(params) is true; fails on timeout."""
    got = []
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        n = c.next_notification(max(left, 0))
        if n is None:
            vmmtest.fail("timed out after %.0f s waiting for %s; got: %s" % (timeout, what, show(got, 1500)))
        p = event_params(n)
        got.append(p)
        if until(p):
            return got


def is_end_of(name):
    return lambda p: (p["vm"] == name and p["type"] == "state"
                      and p["data"].get("state") in ("stopped", "crashed"))


@kvm
def test_state_events_in_order(d):
    sub = subscribe(d, ["state"])
    t0 = time.time()
    d.ctl("run", vmmtest.example_config(d, "hello"))
    got = collect(sub, is_end_of("hello"), what="state events of hello up to stopped")
    t1 = time.time()
    check(all(p["type"] == "state" for p in got), "subscribed to state only, got: %s" % show(got))
    mine = [p for p in got if p["vm"] == "hello"]
    states = [p["data"].get("state") for p in mine]
    check(states in (["created", "running", "stopped"], ["running", "stopped"]),
          "state events of hello must be [created,] running, stopped in order, got %s" % states)
    for prev, p in zip(mine, mine[1:]):
        check(p["data"].get("previous") == prev["data"]["state"],
              "data.previous must be the state before: %s after %s" % (show(p), show(prev)))
    stamps = [p["timestamp"] for p in mine]
    check(stamps == sorted(stamps), "timestamps must not go backwards: %s" % stamps)
    check(t0 - 1 <= stamps[0] and stamps[-1] <= t1 + 1,
          "timestamps must be wall-clock seconds since the epoch: %s not in [%.1f, %.1f]" % (stamps, t0, t1))
    last = mine[-1]["data"]
    if "exit" in last:
        check(isinstance(last["exit"], dict) and last["exit"].get("reason") == "debug-exit",
              "the stopped event's exit: %s" % show(last))
    # the subscribed connection still serves calls
    result_of(sub.call("vmm.version"), "vmm.version on the subscribed connection")


@kvm
def test_console_events(d):
    d.create("ev-console", "hello")
    sub = subscribe(d, ["console"], name="ev-console")
    text = b""

    def until(p):
        nonlocal text
        check(p["type"] == "console" and p["vm"] == "ev-console",
              "subscribed to console of ev-console only, got: %s" % show(p))
        check(isinstance(p["data"].get("offset"), int), "console event needs data.offset: %s" % show(p))
        text += base64.b64decode(p["data"].get("data", ""), validate=True)
        return b"Hello from vmmd guest!" in text
    d.start_vm("ev-console")
    collect(sub, until, what="console events carrying the greeting")


@kvm
def test_subscription_filtered_by_name(d):
    d.create("ev-other", "hello")
    only_other = subscribe(d, ["state"], name="ev-other")
    everything = subscribe(d, ["state"])
    d.run_vm("ev-mine", "hello")
    collect(everything, is_end_of("ev-mine"), what="ev-mine to stop")
    while True:
        n = only_other.next_notification(0.5)
        if n is None:
            break
        p = event_params(n)
        check(p["vm"] == "ev-other", "a subscription for ev-other got an event of %s: %s" % (p["vm"], show(p)))
    d.start_vm("ev-other")
    got = collect(only_other, is_end_of("ev-other"), what="ev-other's own events")
    check(all(p["vm"] == "ev-other" for p in got), "filtered subscription leaked: %s" % show(got))


def test_subscribe_bad_params(d):
    for params, word in (({"topics": ["bogus"]}, "topics"),
                         ({"topics": "state"}, "topics"),
                         ({"topics": ["state"], "bogus": 1}, "bogus")):
        err = expect_error(d.rpc("events.subscribe", params), INVALID_PARAMS,
                           what="events.subscribe %s" % show(params))
        check(vmmtest.error_mentions(err, word) or vmmtest.error_mentions(err, "bogus"),
              "events.subscribe %s: the error should name %r: %s" % (show(params), word, show(err)))


if __name__ == "__main__":
    vmmtest.main()
