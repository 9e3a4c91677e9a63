// Lab entry: the unit list offers only the units of the chosen analyte, and a live preview shows the
// value in the analyte's canonical unit. The data comes from the page (json_script "analyte-units").
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("analyte-units").textContent);
  var analyte = document.getElementById("id_analyte");
  var unit = document.getElementById("id_unit");
  var value = document.getElementById("id_value");
  var preview = document.getElementById("canonical-preview");
  if (!analyte || !unit || !value || !preview) { return; }

  function fillUnits() {
    var info = data[analyte.value];
    if (!info) { return; }
    var current = unit.value;
    unit.replaceChildren();
    info.units.forEach(function (u) {
      var option = document.createElement("option");
      option.value = u.symbol;
      option.textContent = u.symbol;
      if (u.symbol === current) { option.selected = true; }
      unit.appendChild(option);
    });
  }

  function showPreview() {
    var info = data[analyte.value];
    var number = Number(String(value.value).trim());
    if (!info || value.value.trim() === "" || !Number.isFinite(number)) { preview.textContent = ""; return; }
    var chosen = info.units.find(function (u) { return u.symbol === unit.value; });
    if (!chosen) { preview.textContent = ""; return; }
    if (chosen.symbol === info.canonical) { preview.textContent = "Canonical unit: " + info.canonical + "."; return; }
    var converted = number * Number(chosen.multiply) / Number(chosen.divide);
    preview.textContent = "= " + (Math.round(converted * 100) / 100) + " " + info.canonical + " (canonical unit)";
  }

  analyte.addEventListener("change", function () { fillUnits(); showPreview(); });
  unit.addEventListener("change", showPreview);
  value.addEventListener("input", showPreview);
  fillUnits();
  showPreview();
})();
