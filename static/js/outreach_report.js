// The outreach report's plot: per month, the calls made, reached and booked, and the patients who
// returned to care within 15 days or are still lost. Data: json_script "outreach-plot-data".
(function () {
  "use strict";
  var canvas = document.getElementById("outreach-plot");
  var source = document.getElementById("outreach-plot-data");
  if (!canvas || !source || typeof Chart === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var colours = ["#0d6efd", "#6f42c1", "#198754", "#20c997", "#dc3545"];
  var chart = new Chart(canvas, {
    type: "bar",
    data: {
      labels: data.labels,
      datasets: data.series.map(function (series, i) {
        return { label: series.label, data: series.data, backgroundColor: colours[i % colours.length] };
      })
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
      plugins: { legend: { position: "bottom" } }
    }
  });
  canvas.dataset.ready = chart ? "1" : "";
})();
