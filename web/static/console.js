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
  // Keyboard: "/" focuses the search box.
  document.addEventListener("keydown", function (e) {
    if (e.key === "/" && document.activeElement.tagName !== "INPUT" && document.activeElement.tagName !== "TEXTAREA") {
      var q = document.querySelector("input[name=q]");
      if (q) { e.preventDefault(); q.focus(); }
    }
  });
})();
