// The console's only script of its own: draws every chart whose ECharts option the server put in
// data-option, again after htmx swaps a fragment in, and sends the session's CSRF token with every htmx
// request. Pages work without it (figures are in the HTML); charts need it.
(function () {
  "use strict";
  var charts = [];

  function draw(root) {
    if (typeof echarts === "undefined") { return; }
    root.querySelectorAll(".chart[data-option]").forEach(function (el) {
      if (echarts.getInstanceByDom(el)) { return; }
      var chart = echarts.init(el, null, { renderer: "canvas" });
      chart.setOption(JSON.parse(el.getAttribute("data-option")));
      charts.push(chart);
    });
  }

  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:afterSettle", function (event) { draw(event.target); });
  document.addEventListener("htmx:configRequest", function (event) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta && meta.content) { event.detail.headers["X-CSRF-Token"] = meta.content; }
  });
  window.addEventListener("resize", function () {
    charts = charts.filter(function (chart) { return !chart.isDisposed(); });
    charts.forEach(function (chart) { chart.resize(); });
  });
})();
