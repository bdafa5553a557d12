/* Draws the report charts described by <script type="application/json" id="ccd-report-charts">.
   No inline script: the page stays within a Content-Security-Policy that allows only 'self'. */
(function () {
  "use strict";
  var source = document.getElementById("ccd-report-charts");
  if (!source || typeof window.Chart === "undefined") {
    return;
  }
  var charts = JSON.parse(source.textContent);
  charts.forEach(function (spec) {
    var canvas = document.getElementById(spec.id);
    if (!canvas || spec.labels.length === 0) {
      return;
    }
    var round = spec.type === "doughnut" || spec.type === "pie";
    new window.Chart(canvas, {
      type: spec.type,
      data: { labels: spec.labels, datasets: spec.datasets },
      options: {
        maintainAspectRatio: false,
        indexAxis: spec.horizontal ? "y" : "x",
        plugins: {
          title: { display: true, text: spec.title },
          legend: { display: round || spec.datasets.length > 1 }
        },
        scales: round ? {} : { x: { beginAtZero: true, ticks: { precision: 0 } },
                               y: { beginAtZero: true, ticks: { precision: 0 } } }
      }
    });
  });
})();
