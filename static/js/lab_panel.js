// Lab panel: each row shows its value in the analyte's canonical unit as it is typed, and the "why"
// box of a row is offered only once "Not drawn" is ticked. Data: json_script "analyte-units".
(function () {
  "use strict";
  var source = document.getElementById("analyte-units");
  if (!source) { return; }
  var data = JSON.parse(source.textContent);

  function rounded(number) {
    // For reading only (the record keeps the exact value): 3 significant digits, at most 2 decimals.
    var digits = Math.max(0, Math.min(2, 2 - Math.floor(Math.log10(Math.abs(number) || 1))));
    return Number(number.toFixed(digits)).toString();
  }

  document.querySelectorAll(".panel-row").forEach(function (row) {
    var info = data[row.dataset.analyte];
    var value = row.querySelector("input[inputmode=decimal]");
    var unit = row.querySelector("select");
    var out = row.querySelector("[data-canonical]");
    var notDrawn = row.querySelector("[data-not-drawn]");
    var reason = row.querySelector("[data-reason]");
    if (!info || !value || !unit || !out) { return; }

    function show() {
      var text = value.value.trim();
      var number = Number(text);
      if (text === "" || !Number.isFinite(number)) { out.textContent = ""; return; }
      var chosen = info.units.find(function (u) { return u.symbol === unit.value; });
      if (!chosen) { out.textContent = ""; return; }
      var converted = number * Number(chosen.multiply) / Number(chosen.divide);
      out.textContent = "= " + rounded(converted) + " " + info.canonical;
    }
    function toggleReason() {
      if (!notDrawn || !reason) { return; }
      reason.hidden = !notDrawn.checked && reason.value === "";
      if (notDrawn.checked && document.activeElement === notDrawn) { reason.focus(); }
    }
    value.addEventListener("input", show);
    unit.addEventListener("change", show);
    if (notDrawn) { notDrawn.addEventListener("change", toggleReason); }
    show();
    toggleReason();
  });
})();
