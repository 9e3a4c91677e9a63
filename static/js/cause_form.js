// A cause's own fields: length for ileal resection and Crohn's, the procedure for bariatric surgery,
// start and stop for drugs, a description for "other". The others are hidden (and sent empty).
(function () {
  "use strict";
  var kind = document.getElementById("id_kind");
  if (!kind) { return; }
  var fields = document.querySelectorAll("[data-kinds]");

  function update() {
    fields.forEach(function (field) {
      var wrapper = field.closest(".mb-3") || field.parentElement;
      var shown = field.dataset.kinds.split(" ").indexOf(kind.value) !== -1;
      wrapper.hidden = !shown;
    });
  }
  kind.addEventListener("change", update);
  update();
})();
