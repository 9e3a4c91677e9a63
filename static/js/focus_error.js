// Every form: after a refused submit, the first field in error has the focus (and is scrolled to),
// so a keyboard or screen-reader user lands on what to fix.
(function () {
  "use strict";
  var field = document.querySelector(
    "form .is-invalid:not([type=hidden]), form [aria-invalid=true]:not([type=hidden])"
  );
  if (field && typeof field.focus === "function") {
    var details = field.closest("details");
    if (details) { details.open = true; }
    field.focus();
    return;
  }
  var problem = document.querySelector("form .alert-danger, form .alert-warning, .alert-warning[role=alert]");
  if (problem) {
    problem.setAttribute("tabindex", "-1");
    problem.focus();
  }
})();
