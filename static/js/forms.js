// A submit button marked data-once is disabled after the first submit, so a double-click sends one
// request (the server's one-time submission key covers the rest: resubmits, the back button).
(function () {
  "use strict";
  document.querySelectorAll("form").forEach(function (form) {
    form.addEventListener("submit", function () {
      form.querySelectorAll("button[data-once]").forEach(function (button) {
        window.setTimeout(function () { button.disabled = true; }, 0);
      });
    });
  });
})();
