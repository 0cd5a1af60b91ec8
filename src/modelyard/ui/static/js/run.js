/* The run page's charts tab: one MetricChart (charts.js) per <figure data-chart>, each drawn when
   it scrolls near the viewport (IntersectionObserver), so a run with hundreds of metrics does not
   fetch and draw them all at once; fetches share charts.js's queue. The settings (x axis, log scale,
   smoothing, the charts) live in the URL: a change is written back with history.replaceState and
   applied to the charts without a reload; choosing other metrics loads the page of the new URL. */
(function () {
  "use strict";
  var my = window.modelyard = window.modelyard || {};

  function readSettings(root) {
    return {
      runId: root.getAttribute("data-run-id"),
      x: root.getAttribute("data-x") || "step",
      log: root.getAttribute("data-log") === "1",
      smooth: parseFloat(root.getAttribute("data-smooth")) || 0
    };
  }

  function writeUrl(settings) {
    var url = new URL(window.location.href);
    var q = url.searchParams;
    q.set("tab", "charts");
    if (settings.x === "step") { q.delete("x"); } else { q.set("x", settings.x); }
    if (settings.log) { q.set("log", "1"); } else { q.delete("log"); }
    if (settings.smooth > 0) { q.set("smooth", settings.smooth.toFixed(2)); } else { q.delete("smooth"); }
    window.history.replaceState(null, "", url.pathname + "?" + q.toString());
  }

  function chartUrl(charts) {
    var url = new URL(window.location.href);
    var q = url.searchParams;
    q.set("tab", "charts");
    q.delete("chart");
    charts.forEach(function (keys) { q.append("chart", keys.join(",")); });
    return url.pathname + "?" + q.toString();
  }

  function currentCharts(root) {
    var figures = root.querySelectorAll("[data-chart]");
    var out = [];
    for (var i = 0; i < figures.length; i++) { out.push(JSON.parse(figures[i].getAttribute("data-keys"))); }
    return out;
  }

  function start() {
    var root = document.querySelector("[data-charts-root]");
    if (!root || !window.uPlot || !my.charts) { return; }
    var base = readSettings(root);
    var charts = [];
    var figures = root.querySelectorAll("[data-chart]");

    function settingsFor(keys) {
      return { runId: base.runId, keys: keys, x: base.x, log: base.log, smooth: base.smooth };
    }

    for (var i = 0; i < figures.length; i++) {
      var keys = JSON.parse(figures[i].getAttribute("data-keys"));
      var chart = new my.charts.MetricChart(figures[i], settingsFor(keys));
      figures[i].modelyardChart = chart;
      charts.push(chart);
    }

    /* draw a chart when it comes within a screen of the viewport */
    if (window.IntersectionObserver) {
      var observer = new IntersectionObserver(function (entries) {
        entries.forEach(function (entry) {
          if (!entry.isIntersecting) { return; }
          observer.unobserve(entry.target);
          entry.target.modelyardChart.load();
        });
      }, { rootMargin: "400px 0px" });
      charts.forEach(function (c) { observer.observe(c.figure); });
    } else {
      charts.forEach(function (c) { c.load(); });
    }

    function apply() {
      writeUrl(base);
      charts.forEach(function (c) { c.update(settingsFor(c.settings.keys)); });
    }

    var controls = root.querySelector("[data-chart-controls]");
    if (controls) {
      var apply_ = controls.querySelector("[data-apply]");
      if (apply_) { apply_.hidden = true; }  /* changes apply at once */
      controls.addEventListener("submit", function (event) { event.preventDefault(); apply(); });
      var xSelect = controls.querySelector("[data-x-axis]");
      xSelect.addEventListener("change", function () { base.x = xSelect.value; apply(); });
      var logBox = controls.querySelector("[data-log-scale]");
      logBox.addEventListener("change", function () { base.log = logBox.checked; apply(); });
      var slider = controls.querySelector("[data-smoothing]");
      var shown = controls.querySelector("[data-smoothing-value]");
      slider.addEventListener("input", function () { shown.textContent = parseFloat(slider.value).toFixed(2); });
      slider.addEventListener("change", function () { base.smooth = parseFloat(slider.value) || 0; apply(); });
    }

    wireChooser(root);

    document.addEventListener("modelyard:themechange", function () {
      charts.forEach(function (c) { c.retheme(); });
    });
  }

  function wireChooser(root) {
    var chooser = root.querySelector("[data-chart-chooser]");
    if (!chooser) { return; }
    var maxKeys = parseInt(root.getAttribute("data-max-keys"), 10) || 10;
    var error = chooser.querySelector("[data-chooser-error]");
    var filter = chooser.querySelector("[data-metric-filter]");
    filter.addEventListener("input", function () {
      var needle = filter.value.toLowerCase();
      var items = chooser.querySelectorAll("[data-metric-choices] li");
      for (var i = 0; i < items.length; i++) {
        items[i].hidden = needle !== "" && items[i].textContent.toLowerCase().indexOf(needle) === -1;
      }
    });

    function ticked() {
      var boxes = chooser.querySelectorAll("[data-metric-choice]:checked");
      var out = [];
      for (var i = 0; i < boxes.length; i++) { out.push(boxes[i].value); }
      return out;
    }

    function refuse(text) {
      error.textContent = text;
      error.hidden = false;
    }

    function go(charts) { window.location.assign(chartUrl(charts)); }

    chooser.querySelector("[data-chart-each]").addEventListener("click", function () {
      var keys = ticked();
      if (!keys.length) { refuse("Tick at least one metric."); return; }
      go(keys.map(function (k) { return [k]; }));
    });
    chooser.querySelector("[data-chart-together]").addEventListener("click", function () {
      var keys = ticked();
      if (!keys.length) { refuse("Tick at least one metric."); return; }
      if (keys.length > maxKeys) { refuse("One chart draws at most " + maxKeys + " metrics; " + keys.length + " are ticked."); return; }
      go([keys]);
    });
    chooser.querySelector("[data-chart-add]").addEventListener("click", function () {
      var keys = ticked();
      if (!keys.length) { refuse("Tick at least one metric."); return; }
      if (keys.length > maxKeys) { refuse("One chart draws at most " + maxKeys + " metrics; " + keys.length + " are ticked."); return; }
      go(currentCharts(root).concat([keys]));
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
