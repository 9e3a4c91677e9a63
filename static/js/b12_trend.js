// The chart's B12 plot: results in pg/mL over time, the low and borderline bands of the patient's
// profile as filled areas, and injection days as triangles along the bottom. Data: json_script.
(function () {
  "use strict";
  var canvas = document.getElementById("b12-trend");
  var source = document.getElementById("b12-trend-data");
  if (!canvas || !source || typeof Chart === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var DAY = 86400000;
  function day(iso) { return Math.round(Date.parse(iso + "T00:00:00Z") / DAY); }
  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  // The pages' one date format: 30 Nov 2026.
  function label(value) {
    var d = new Date(Math.round(value) * DAY);
    return d.getUTCDate() + " " + MONTHS[d.getUTCMonth()] + " " + d.getUTCFullYear();
  }

  var points = data.b12.map(function (p) { return { x: day(p.x), y: p.y }; });
  var shots = data.injections.map(function (d) { return { x: day(d), y: 0 }; });
  var days = points.concat(shots).map(function (p) { return p.x; });
  var today = Math.floor(Date.now() / DAY);
  var first = days.length ? Math.min.apply(null, days) : today - 90;
  var last = days.length ? Math.max.apply(null, days) : today;
  var min = first - 7;
  var max = last + 7;
  var top = Math.max(data.normal_above * 1.4, Math.max.apply(null, points.map(function (p) { return p.y; }).concat([0])) * 1.1);

  function band(y) { return [{ x: min, y: y }, { x: max, y: y }]; }

  var chart = new Chart(canvas, {
    type: "line",
    data: {
      datasets: [
        { label: "Low (< " + data.low_below + ")", data: band(data.low_below), fill: "origin",
          backgroundColor: "rgba(220, 53, 69, 0.15)", borderWidth: 0, pointRadius: 0, order: 3 },
        { label: "Borderline (" + data.low_below + "–" + data.normal_above + ")", data: band(data.normal_above), fill: "-1",
          backgroundColor: "rgba(255, 193, 7, 0.2)", borderWidth: 0, pointRadius: 0, order: 3 },
        { label: "B12 (" + data.unit + ")", data: points, borderColor: "#0d6efd", backgroundColor: "#0d6efd",
          pointRadius: 4, tension: 0, order: 1 },
        { label: "Injection", data: shots, showLine: false, pointStyle: "triangle", pointRadius: 7,
          borderColor: "#198754", backgroundColor: "#198754", order: 2 }
      ]
    },
    options: {
      animation: false,
      maintainAspectRatio: false,
      interaction: { mode: "nearest", intersect: true },
      scales: {
        x: { type: "linear", min: min, max: max, ticks: { callback: label, maxTicksLimit: 8 } },
        y: { min: 0, max: Math.ceil(top / 50) * 50, title: { display: true, text: data.unit } }
      },
      plugins: {
        tooltip: { callbacks: {
          title: function (items) { return items.length ? label(items[0].parsed.x) : ""; },
          // Rounded for reading; the record keeps the exact value.
          label: function (item) { return item.dataset.label + ": " + Number(item.parsed.y.toPrecision(3)); }
        } },
        legend: { labels: { boxWidth: 14 } }
      }
    }
  });
  window.b12TrendChart = chart;
})();
