// Automatic logoff on shared workstations: a warning a minute before the session's idle timeout,
// "Stay logged in" keeps it, and at the timeout the page goes to the login (the server has already
// ended the session by then). Loaded on every page of a logged-in user; no inline script (CSP).
(function () {
  "use strict";
  var body = document.body;
  var idle = parseInt(body.dataset.idleSeconds || "0", 10);
  var banner = document.getElementById("idle-warning");
  if (!idle || !banner) { return; }
  var warnAfter = Math.max(idle - 60, 1) * 1000;
  var warnTimer, endTimer;

  function schedule() {
    clearTimeout(warnTimer);
    clearTimeout(endTimer);
    banner.classList.add("d-none");
    warnTimer = setTimeout(function () { banner.classList.remove("d-none"); }, warnAfter);
    endTimer = setTimeout(function () {
      window.location.assign(body.dataset.loginUrl + "?next=" + encodeURIComponent(window.location.pathname));
    }, idle * 1000 + 1000);
  }

  document.getElementById("idle-stay").addEventListener("click", function () {
    fetch(body.dataset.pingUrl, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (response) { if (response.ok) { schedule(); } });
  });
  document.body.addEventListener("htmx:afterRequest", schedule);
  schedule();
})();
