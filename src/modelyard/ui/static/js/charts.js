/* Metric line charts drawn with uPlot from the server's chart data (/ui/data/series and
   /ui/data/series/many). The server downsamples a long history to about twice the chart's width in
   pixels (first, last, min and max per x bucket) and says so; the chart's caption says it too, and
   the figure carries the counts in data attributes (data-points-total, data-points-drawn,
   data-downsampled). Dragging across a chart fetches the detail of that x range; a double-click or
   the "whole history" button goes back. Smoothing (an exponential moving average, debiased) and the
   log scale are computed here from the points the server sent. Charts redraw in the theme's colours
   on "modelyard:themechange". Fetches go through one queue of at most MAX_PARALLEL at a time. */
(function () {
  "use strict";
  var my = window.modelyard = window.modelyard || {};

  var MAX_PARALLEL = 4;
  var MIN_POINTS = 100;
  var MAX_POINTS = 5000;
  var HEIGHT = 260;
  var active = 0;
  var waiting = [];

  function pump() {
    while (active < MAX_PARALLEL && waiting.length) {
      var job = waiting.shift();
      if (job.signal && job.signal.aborted) { job.reject(abortError()); continue; }
      active += 1;
      run(job);
    }
  }

  function run(job) {
    fetch(job.url, { signal: job.signal, credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) {
            var error = new Error((body && (body.message || body.error)) || ("HTTP " + response.status));
            error.status = response.status;
            throw error;
          }
          return body;
        });
      })
      .then(job.resolve, job.reject)
      .then(function () { active -= 1; pump(); });
  }

  function abortError() {
    var error = new Error("aborted");
    error.name = "AbortError";
    return error;
  }

  /* JSON from url, queued behind at most MAX_PARALLEL requests in flight */
  function queuedJson(url, signal) {
    return new Promise(function (resolve, reject) {
      waiting.push({ url: url, signal: signal, resolve: resolve, reject: reject });
      pump();
    });
  }

  var integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
  function count(n) { return integer.format(n); }

  function duration(ms) {
    var sign = ms < 0 ? "-" : "";
    ms = Math.abs(ms);
    if (ms < 1000) { return sign + Math.round(ms) + " ms"; }
    var s = ms / 1000;
    if (s < 60) { return sign + (Math.round(s * 10) / 10) + " s"; }
    var m = Math.floor(s / 60);
    if (m < 60) { return sign + m + " min " + Math.round(s - m * 60) + " s"; }
    var h = Math.floor(m / 60);
    return sign + h + " h " + (m - h * 60) + " min";
  }

  /* exponential moving average, debiased as TensorBoard does; gaps (null) stay gaps */
  function smooth(ys, weight) {
    var out = new Array(ys.length);
    var last = 0;
    var n = 0;
    for (var i = 0; i < ys.length; i++) {
      var y = ys[i];
      if (y == null) { out[i] = null; continue; }
      last = last * weight + (1 - weight) * y;
      n += 1;
      out[i] = last / (1 - Math.pow(weight, n));
    }
    return out;
  }

  var AXES = {
    step: { label: "step", time: false, fromServer: function (x) { return x; }, toServer: function (x) { return x; } },
    wall: { label: "wall time", time: true, fromServer: function (x) { return x / 1000; }, toServer: function (x) { return x * 1000; } },
    relative: { label: "time since the run's start", time: false, fromServer: function (x) { return x / 1000; }, toServer: function (x) { return x * 1000; } }
  };

  function rangeText(axis, range) {
    if (!range) { return ""; }
    if (axis === "step") { return "steps " + count(Math.ceil(range[0])) + "–" + count(Math.floor(range[1])); }
    if (axis === "relative") { return duration(range[0]) + " – " + duration(range[1]) + " after the start"; }
    var a = new Date(range[0]);
    var b = new Date(range[1]);
    return a.toLocaleString() + " – " + b.toLocaleString();
  }

  function seriesInfo(s) {
    var drawn = s.x.length;
    var text = s.downsampled
      ? count(s.total) + " points, showing " + count(drawn) + " (min/max per bucket)"
      : count(s.total) + " point" + (s.total === 1 ? "" : "s");
    var nf = s.non_finite || {};
    var bad = (nf.nan || 0) + (nf.inf || 0) + (nf.neg_inf || 0);
    if (bad) { text += "; " + count(bad) + " NaN or infinite not drawn"; }
    return text;
  }

  /* One chart: a <figure data-chart> with [data-chart-canvas], [data-chart-info] and
     [data-chart-reset] inside. settings: {runId, keys, x, log, smooth} */
  function MetricChart(figure, settings) {
    this.figure = figure;
    this.canvas = figure.querySelector("[data-chart-canvas]");
    this.info = figure.querySelector("[data-chart-info]");
    this.resetButton = figure.querySelector("[data-chart-reset]");
    this.settings = settings;
    this.range = null;
    this.series = null;
    this.plot = null;
    this.controller = null;
    this.loaded = false;
    var self = this;
    if (this.resetButton) {
      this.resetButton.addEventListener("click", function () { self.zoom(null); });
    }
    if (window.ResizeObserver) {
      this.resizer = new ResizeObserver(function () { self.resize(); });
      this.resizer.observe(this.canvas);
    }
  }

  MetricChart.prototype.points = function () {
    var width = this.canvas.clientWidth || 600;
    return Math.max(MIN_POINTS, Math.min(MAX_POINTS, Math.round(width * 2)));
  };

  MetricChart.prototype.url = function () {
    var s = this.settings;
    var params = new URLSearchParams();
    params.append("run_id", s.runId);
    s.keys.forEach(function (k) { params.append("key", k); });
    params.append("x", s.x);
    params.append("points", String(this.points()));
    if (this.range) {
      params.append("min", String(this.range[0]));
      params.append("max", String(this.range[1]));
    }
    return (s.keys.length === 1 ? "/ui/data/series?" : "/ui/data/series/many?") + params.toString();
  };

  MetricChart.prototype.state = function (name, text) {
    this.figure.setAttribute("data-state", name);
    this.figure.setAttribute("aria-busy", name === "loading" ? "true" : "false");
    if (text != null) { this.info.textContent = text; }
    this.info.classList.toggle("chart-error", name === "error");
  };

  /* fetch the points of the current range (the whole history when range is null) and draw them */
  MetricChart.prototype.load = function () {
    var self = this;
    if (this.controller) { this.controller.abort(); }
    var controller = this.controller = new AbortController();
    this.loaded = true;
    this.state("loading", "Loading…");
    return queuedJson(this.url(), controller.signal).then(function (body) {
      if (controller.signal.aborted) { return; }
      self.series = body.series ? body.series : [body];
      self.draw();
    }).catch(function (error) {
      if (error.name === "AbortError") { return; }
      self.state("error", "Could not load the chart: " + error.message);
    });
  };

  MetricChart.prototype.zoom = function (range) {
    this.range = range;
    this.figure.setAttribute("data-zoomed", range ? "true" : "false");
    if (this.resetButton) { this.resetButton.hidden = !range; }
    return this.load();
  };

  MetricChart.prototype.update = function (settings) {
    var refetch = settings.x !== this.settings.x;
    this.settings = settings;
    if (!this.loaded) { return; }
    if (refetch) {
      this.range = null;
      if (this.resetButton) { this.resetButton.hidden = true; }
      this.figure.setAttribute("data-zoomed", "false");
      this.load();
    } else {
      this.draw();
    }
  };

  /* [x, y1 (, smoothed y1), y2 ...] aligned on one x, in uPlot's units, with what was left out */
  MetricChart.prototype.table = function () {
    var axis = AXES[this.settings.x];
    var log = this.settings.log;
    var weight = this.settings.smooth;
    var dropped = 0;
    var parts = this.series.map(function (s) {
      var xs = s.x.map(axis.fromServer);
      var ys = s.y.map(function (y) {
        if (log && !(y > 0)) { dropped += 1; return null; }
        return y;
      });
      return [xs, ys];
    });
    var data = parts.length === 1 ? parts[0] : window.uPlot.join(parts);
    var out = [data[0]];
    for (var i = 1; i < data.length; i++) {
      out.push(data[i]);
      if (weight > 0) { out.push(smooth(data[i], weight)); }
    }
    return { data: out, dropped: dropped };
  };

  MetricChart.prototype.options = function (theme, width) {
    var self = this;
    var settings = this.settings;
    var axis = AXES[settings.x];
    var smoothing = settings.smooth > 0;
    var series = [{ label: axis.label }];
    this.series.forEach(function (s, i) {
      var color = theme.series[i % theme.series.length] || theme.accent;
      series.push({ label: s.key, stroke: color, width: smoothing ? 1 : 1.5, alpha: smoothing ? 0.3 : 1, spanGaps: true, points: { show: false } });
      if (smoothing) {
        series.push({ label: s.key + " (smoothed)", stroke: color, width: 2, spanGaps: true, points: { show: false } });
      }
    });
    var axisStyle = { stroke: theme.axis, grid: { stroke: theme.grid, width: 1 }, ticks: { stroke: theme.grid, width: 1 } };
    var xAxis = Object.assign({ label: axis.label }, axisStyle);
    if (settings.x === "relative") {
      xAxis.values = function (u, splits) { return splits.map(function (v) { return duration(v * 1000); }); };
    }
    return {
      width: width,
      height: HEIGHT,
      scales: {
        x: { time: axis.time },
        y: settings.log ? { distr: 3 } : {}
      },
      axes: [xAxis, Object.assign({}, axisStyle, { size: 60 })],
      series: series,
      legend: { live: true },
      cursor: { drag: { x: true, y: false, setScale: false } },
      hooks: {
        setSelect: [function (u) {
          if (u.select.width < 4) { return; }
          var low = u.posToVal(u.select.left, "x");
          var high = u.posToVal(u.select.left + u.select.width, "x");
          u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
          self.zoom([axis.toServer(low), axis.toServer(high)]);
        }]
      }
    };
  };

  MetricChart.prototype.draw = function () {
    if (!this.series) { return; }
    var theme = my.theme();
    var table = this.table();
    var width = this.canvas.clientWidth || 600;
    if (this.plot) { this.plot.destroy(); }
    this.canvas.textContent = "";
    this.plot = new window.uPlot(this.options(theme, width), table.data, this.canvas);
    var self = this;
    var over = this.plot.root.querySelector(".u-over");
    if (over) { over.addEventListener("dblclick", function () { if (self.range) { self.zoom(null); } }); }
    this.describe(theme, table.dropped);
  };

  MetricChart.prototype.describe = function (theme, dropped) {
    var total = 0;
    var drawn = 0;
    var downsampled = false;
    var several = this.series.length > 1;
    var texts = this.series.map(function (s) {
      total += s.total;
      drawn += s.x.length;
      downsampled = downsampled || s.downsampled;
      return (several ? s.key + ": " : "") + seriesInfo(s);
    });
    var text = texts.join("; ");
    if (this.range) { text += " · zoomed to " + rangeText(this.settings.x, this.range); }
    if (dropped) { text += " · " + count(dropped) + " values ≤ 0 left out of the log scale"; }
    if (this.settings.smooth > 0) { text += " · smoothed (" + this.settings.smooth.toFixed(2) + ")"; }
    var f = this.figure;
    f.setAttribute("data-points-total", String(total));
    f.setAttribute("data-points-drawn", String(drawn));
    f.setAttribute("data-downsampled", downsampled ? "true" : "false");
    f.setAttribute("data-theme", theme.name);
    this.state("ready", text);
  };

  MetricChart.prototype.resize = function () {
    if (!this.plot) { return; }
    var width = this.canvas.clientWidth;
    if (width && Math.abs(width - this.plot.width) > 2) { this.plot.setSize({ width: width, height: HEIGHT }); }
  };

  MetricChart.prototype.retheme = function () { if (this.plot) { this.draw(); } };

  my.charts = { MetricChart: MetricChart, queuedJson: queuedJson, smooth: smooth, MAX_PARALLEL: MAX_PARALLEL };
}());
