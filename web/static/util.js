// SPDX-License-Identifier: MIT
// Shared helpers of the dashboard. Everything on the page is built with
// el(): text goes in as text nodes, never as markup, so VM names, console
// bytes and whatever else a guest or a client controls cannot become HTML.
"use strict";

const VMM = {};

// el("td", {class: "num", title: t}, "text", childNode, ...)
VMM.el = function (tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "dataset") Object.assign(e.dataset, v);
    else if (k === "onclick") e.addEventListener("click", v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    e.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
};

VMM.clear = function (node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
};

// GET /api/METHOD?params; resolves to the result, rejects with an Error
// carrying vmmd's error class (err.cls) and message.
VMM.api = async function (method, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {}))
    if (v !== undefined && v !== null && v !== "") q.append(k, String(v));
  const url = "/api/" + encodeURIComponent(method) + (q.toString() ? "?" + q : "");
  const r = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
  let body;
  try { body = VMM.parseJson(await r.text()); } catch (e) { body = null; }
  if (!r.ok || !body || body.error) {
    const err = new Error((body && body.error && body.error.message) || ("HTTP " + r.status));
    err.cls = body && body.error && body.error.data ? body.error.data.class : "HTTP" + r.status;
    throw err;
  }
  return body;
};

// JSON.parse turns integers above 2^53 into inexact doubles, and guest
// addresses are 64-bit: integers of 16 digits or more become strings first
// (VMM.big reads them). Only where a number can stand: after : [ or , and
// before , ] or }; vmmd's strings (base64, names, mnemonics) have no such run.
VMM.parseJson = function (text) {
  return JSON.parse(text.replace(/([:\[,]\s*)(\d{16,})(?=\s*[,\]}])/g, '$1"$2"'));
};

// Addresses arrive as JSON numbers (exact up to 2^53 in JS) or "0x..." strings.
VMM.big = function (v) {
  if (typeof v === "bigint") return v;
  if (typeof v === "string") return BigInt(v);
  if (typeof v === "number" && Number.isFinite(v)) return BigInt(Math.trunc(v));
  return 0n;
};

VMM.hex = function (v, width) {
  if (v === null || v === undefined) return "-";
  let s = VMM.big(v).toString(16);
  if (width) s = s.padStart(width, "0");
  return "0x" + s;
};

VMM.uptime = function (s) {
  if (typeof s !== "number" || !(s >= 0)) return "-";
  s = Math.floor(s);
  if (s < 60) return s + "s";
  if (s < 3600) return Math.floor(s / 60) + "m" + String(s % 60).padStart(2, "0") + "s";
  if (s < 86400) return Math.floor(s / 3600) + "h" + String(Math.floor(s / 60) % 60).padStart(2, "0") + "m";
  return Math.floor(s / 86400) + "d" + String(Math.floor(s / 3600) % 24).padStart(2, "0") + "h";
};

VMM.rate = function (r) {
  if (typeof r !== "number" || !Number.isFinite(r)) return "-";
  if (r >= 1e6) return (r / 1e6).toFixed(1) + "M";
  if (r >= 1e4) return (r / 1e3).toFixed(1) + "k";
  return r >= 10 ? r.toFixed(0) : r.toFixed(1);
};

// Page-table entry flag bits (introspection.md: P W U PWT PCD A D PS G NX).
VMM.pteFlags = function (entry, leafLevel1) {
  const e = VMM.big(entry);
  const names = [[0n, "P"], [1n, "W"], [2n, "U"], [3n, "PWT"], [4n, "PCD"], [5n, "A"], [6n, "D"],
                 [7n, leafLevel1 ? "PAT" : "PS"], [8n, "G"], [63n, "NX"]];
  return names.filter(([bit]) => (e >> bit) & 1n).map(([, n]) => n).join(" ") || "-";
};

// The frame an entry points at (bits 12..51).
VMM.pteAddr = function (entry) {
  return VMM.big(entry) & 0x000ffffffffff000n;
};

// Console bytes as text a <pre> can show: printable characters, \n and \t;
// the rest (escape sequences included) as U+FFFD.
VMM.consoleText = function (b64) {
  const bin = atob(b64 || "");
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes);
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, "\ufffd");
};

VMM.time = function (epoch) {
  const d = new Date(epoch * 1000);
  return d.toISOString().slice(11, 23);
};
