// Lindungi console: refresh the inbox table in place so a new complaint
// appears without a reload. Served from the binary under a CSP that allows
// only this file; it never evaluates what it fetches, it only swaps the
// server-rendered (already escaped) rows.
(function () {
  "use strict";
  var table = document.getElementById("tickets");
  if (!table || !table.dataset.poll) { return; }
  var every = parseInt(table.dataset.poll, 10) * 1000;
  function refresh() {
    if (document.visibilityState !== "visible") { return; }
    fetch(window.location.href, { credentials: "same-origin", headers: { "X-Lindungi-Poll": "1" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.querySelector("#tickets tbody");
        var stamp = doc.getElementById("refreshed");
        if (fresh) { table.tBodies[0].replaceWith(document.importNode(fresh, true)); }
        var here = document.getElementById("refreshed");
        if (stamp && here) { here.textContent = stamp.textContent; }
      })
      .catch(function () { /* the next tick tries again */ });
  }
  window.setInterval(refresh, every);
  // Keyboard, outside form fields: "/" search, j/k move down/up the rows,
  // Enter (or o) opens the ticket, t takes it, x ticks it for a bulk action.
  var current = -1;
  function rows() { return table.tBodies[0].querySelectorAll("tr[data-ticket]"); }
  function mark(i) {
    var rs = rows();
    if (!rs.length) { return; }
    current = Math.max(0, Math.min(rs.length - 1, i));
    for (var k = 0; k < rs.length; k++) { rs[k].classList.toggle("current", k === current); }
    rs[current].scrollIntoView({ block: "nearest" });
  }
  document.addEventListener("keydown", function (e) {
    var tag = document.activeElement.tagName;
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || e.ctrlKey || e.metaKey || e.altKey) { return; }
    var row = rows()[current];
    switch (e.key) {
      case "/":
        var q = document.querySelector("input[name=q]");
        if (q) { e.preventDefault(); q.focus(); }
        break;
      case "j": mark(current + 1); break;
      case "k": mark(current - 1); break;
      case "Enter": case "o":
        if (row) { var a = row.querySelector("a"); if (a) { window.location.href = a.href; } }
        break;
      case "t":
        if (row) { var b = row.querySelector("button.take"); if (b) { b.click(); } }
        break;
      case "x":
        if (row) { var c = row.querySelector("input[type=checkbox]"); if (c) { c.checked = !c.checked; } }
        break;
    }
  });
})();

// The WhatsApp pairing page (admin): poll the channel's status and swap in
// the new QR image whenever WhatsApp issues another code, without a
// reload; once the state changes (paired, logged out), load the page anew
// (by GET: the page may be the answer to the phone-code form).
(function () {
  "use strict";
  var box = document.getElementById("wa-pairing");
  var img = document.getElementById("wa-qr");
  var state = document.getElementById("wa-state");
  if (!box || !img || !state || !box.dataset.poll) { return; }
  var every = parseInt(box.dataset.poll, 10) * 1000;
  var last = null;
  var n = 0;
  function poll() {
    fetch("/api/v1/whatsapp/status", { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (st) {
        if (!st) { return; }
        if (st.state !== state.dataset.state) {
          window.location.assign("/admin/whatsapp");
          return;
        }
        if (st.qr && st.qr !== last) {
          last = st.qr;
          n++;
          img.src = "/api/v1/whatsapp/qr.png?v=" + n;
          img.dataset.version = String(n);
          box.hidden = false;
        }
      })
      .catch(function () { /* the next tick tries again */ });
  }
  poll();
  window.setInterval(poll, every);
})();

// "Try the bot": the conversation refreshes in place every second, so the
// bot's answer (delivered by the outbox a moment after the message was
// stored) appears without a reload. Server-rendered rows only, as above.
(function () {
  "use strict";
  var log = document.getElementById("trylog");
  if (!log) { return; }
  log.scrollTop = log.scrollHeight;
  var input = document.getElementById("try-text");
  if (input) { input.focus(); }
  function refresh() {
    if (document.visibilityState !== "visible") { return; }
    fetch("/try", { credentials: "same-origin", headers: { "X-Lindungi-Poll": "1" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("trylog");
        if (!fresh || fresh.innerHTML === log.innerHTML) { return; }
        log.replaceWith(document.importNode(fresh, true));
        log = document.getElementById("trylog");
        log.scrollTop = log.scrollHeight;
      })
      .catch(function () { /* the next tick tries again */ });
  }
  window.setInterval(refresh, 1000);
})();
