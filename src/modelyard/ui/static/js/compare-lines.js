/* The compare page's metric charts: one uPlot chart per chosen metric, one line per run, over the
   step, the wall time or the time since each run's start; log scale; EMA smoothing; drag to zoom.

   The points come from the server already downsampled (min/max per bucket, ~2 points per pixel):
   every run and every chosen metric in one request to /ui/data/series/many (as many metrics per
   request as the endpoint takes, options.keysPerRequest), and again for the zoomed range when the
   user zooms. Each run keeps its own x values: the lines are drawn by a path builder of ours from
   each series' own points (uPlot 1.6.9 wants one shared x array, and joining 200 runs' wall times
   would make it huge); uPlot draws the axes, the grid, the legend and the zoom selection. Each chart
   says how many points it drew per run (data-point-counts) and whether they were downsampled. */
(function () {
  "use strict";
  var my = window.modelyard = window.modelyard || {};
  var HEIGHT = 300;
  var DASHES = [null, [6, 3], [2, 2], [10, 3, 2, 3]];
  var STEP_INCREMENTS = [];
  for (var e = 0; e < 16; e++) { STEP_INCREMENTS.push(Math.pow(10, e), 2 * Math.pow(10, e), 5 * Math.pow(10, e)); }
  var X_LABELS = { step: "Step", wall: "Wall time", relative: "Seconds since the run's start" };

  function Lines(root, status, options) {
    this.root = root;
    this.status = status;
    this.url = options.url;
    this.runs = options.runs;
    this.onZoom = options.onZoom;
    this.keysPerRequest = options.keysPerRequest || 10;
    this.state = null;
    this.cache = null; // {x, zoom, series: {key: [series or null per run]}}
    this.plots = [];
    this.seq = 0;
  }

  Lines.prototype.update = function (state) {
    this.state = state;
    var cache = this.cache;
    if (!cache || cache.x !== state.x || cache.zoom[0] !== state.zoom[0] || cache.zoom[1] !== state.zoom[1]) {
      cache = this.cache = { x: state.x, zoom: state.zoom.slice(), series: {} };
    }
    var missing = state.metrics.filter(function (k) { return !(k in cache.series); });
    if (missing.length) { this.fetch(missing); } else { this.render(); }
  };

  Lines.prototype.points = function () {
    var width = this.root.clientWidth || 800;
    return Math.max(100, Math.min(5000, Math.round(width * 2)));
  };

  Lines.prototype.fetch = function (keys) {
    var self = this, seq = ++this.seq, cache = this.cache;
    var requests = [];
    for (var i = 0; i < keys.length; i += this.keysPerRequest) {
      var q = new URLSearchParams();
      this.runs.forEach(function (run) { q.append("run_id", run.id); });
      keys.slice(i, i + this.keysPerRequest).forEach(function (k) { q.append("key", k); });
      q.set("x", cache.x);
      q.set("points", String(this.points()));
      if (cache.zoom[0] !== null) { q.set("min", String(cache.zoom[0])); }
      if (cache.zoom[1] !== null) { q.set("max", String(cache.zoom[1])); }
      requests.push(getJson(this.url + "?" + q.toString()));
    }
    this.say("Loading the chart data…");
    this.root.setAttribute("aria-busy", "true");
    Promise.all(requests).then(function (answers) {
      if (seq !== self.seq || cache !== self.cache) { return; }
      var index = {};
      self.runs.forEach(function (run, i) { index[run.id] = i; });
      keys.forEach(function (k) { cache.series[k] = self.runs.map(function () { return null; }); });
      answers.forEach(function (answer) {
        answer.series.forEach(function (s) {
          if (cache.series[s.key] && s.run_id in index) { cache.series[s.key][index[s.run_id]] = s; }
        });
      });
      self.root.setAttribute("aria-busy", "false");
      self.say("");
      self.render();
    }).catch(function (error) {
      if (seq !== self.seq) { return; }
      self.root.setAttribute("aria-busy", "false");
      self.say("The chart data could not be loaded: " + error.message);
    });
  };

  Lines.prototype.say = function (text) { this.status.textContent = text; };

  Lines.prototype.destroy = function () {
    this.plots.forEach(function (p) { p.destroy(); });
    this.plots = [];
    my.compareSvg.clear(this.root);
  };

  Lines.prototype.render = function () {
    var self = this, state = this.state;
    if (!state || !this.cache) { return; }
    this.destroy();
    if (!state.metrics.length) {
      var empty = document.createElement("p");
      empty.className = "muted";
      empty.textContent = "Choose one or more metrics above to draw them.";
      this.root.appendChild(empty);
      return;
    }
    var theme = my.theme();
    state.metrics.forEach(function (key) {
      var series = self.cache.series[key];
      if (series) { self.chart(key, series, state, theme); }
    });
  };

  Lines.prototype.resize = function () {
    var width = this.chartWidth();
    this.plots.forEach(function (p) { p.setSize({ width: width, height: HEIGHT }); });
  };

  Lines.prototype.chartWidth = function () {
    return Math.max(320, (this.root.clientWidth || 800) - 20);
  };

  function toPlotX(axis, v) { return axis === "step" ? v : v / 1000; }
  function fromPlotX(axis, v) { return axis === "step" ? v : v * 1000; }

  function smooth(ys, weight) {
    if (!(weight > 0)) { return ys; }
    var out = new Array(ys.length), last = 0, n = 0;
    for (var i = 0; i < ys.length; i++) {
      var v = ys[i];
      if (!isFinite(v)) { out[i] = v; continue; }
      last = last * weight + (1 - weight) * v;
      n += 1;
      out[i] = last / (1 - Math.pow(weight, n));
    }
    return out;
  }

  /* each run's points as drawn: x in the plot's unit, y smoothed, non-positive y dropped on a log scale */
  function prepare(series, state) {
    return series.map(function (s) {
      if (!s) { return null; }
      var xs = s.x.map(function (v) { return toPlotX(state.x, v); });
      var ys = smooth(s.y, state.smooth);
      if (state.log) { ys = ys.map(function (v) { return v > 0 ? v : NaN; }); }
      return { x: xs, y: ys, raw: s.y, source: s };
    });
  }

  function extent(prepared, pick) {
    var lo = Infinity, hi = -Infinity;
    prepared.forEach(function (p) {
      if (!p) { return; }
      var values = pick(p);
      for (var i = 0; i < values.length; i++) {
        var v = values[i];
        if (isFinite(v)) { if (v < lo) { lo = v; } if (v > hi) { hi = v; } }
      }
    });
    return lo <= hi ? [lo, hi] : null;
  }

  /* a path builder drawing series `sidx` from its own points (see the file's comment) */
  function pathsFor(prepared) {
    return function (u, sidx) {
      var p = prepared[sidx - 1], path = new Path2D();
      if (p) {
        var started = false;
        for (var i = 0; i < p.x.length; i++) {
          var y = p.y[i];
          if (!isFinite(y)) { started = false; continue; }
          var cx = u.valToPos(p.x[i], "x", true), cy = u.valToPos(y, "y", true);
          if (started) { path.lineTo(cx, cy); } else { path.moveTo(cx, cy); started = true; }
        }
      }
      return { stroke: path, fill: null, clip: null, band: null };
    };
  }

  Lines.prototype.chart = function (key, series, state, theme) {
    var self = this;
    var figure = document.createElement("figure");
    figure.className = "line-chart";
    figure.setAttribute("data-metric", key);
    figure.setAttribute("data-theme", theme.name);
    figure.setAttribute("data-x", state.x);
    figure.setAttribute("data-log", String(state.log));
    var caption = document.createElement("figcaption");
    caption.textContent = key;
    var note = document.createElement("span");
    note.className = "chart-note";
    caption.appendChild(note);
    figure.appendChild(caption);
    this.root.appendChild(figure);

    var prepared = prepare(series, state);
    var counts = series.map(function (s) { return s ? s.x.length : 0; });
    var totals = series.map(function (s) { return s ? s.total : 0; });
    var withPoints = counts.filter(function (c) { return c > 0; }).length;
    figure.setAttribute("data-series-count", String(withPoints));
    figure.setAttribute("data-point-counts", JSON.stringify(counts));
    figure.setAttribute("data-total-points", JSON.stringify(totals));
    var downsampled = series.some(function (s) { return s && s.downsampled; });
    figure.setAttribute("data-downsampled", String(downsampled));
    note.textContent = describe(series, counts, totals, downsampled, state);

    var xr = extent(prepared, function (p) { return p.x; });
    var yr = extent(prepared, function (p) { return p.y; });
    if (state.zoom[0] !== null) { xr = [toPlotX(state.x, state.zoom[0]), xr ? xr[1] : toPlotX(state.x, state.zoom[0])]; }
    if (state.zoom[1] !== null) { xr = [xr ? xr[0] : toPlotX(state.x, state.zoom[1]), toPlotX(state.x, state.zoom[1])]; }
    if (!xr || !yr) {
      var none = document.createElement("p");
      none.className = "muted";
      none.textContent = withPoints ? "No value of " + key + " can be drawn here" + (state.log ? " on a log scale (none is above 0)." : ".")
        : "None of these runs logged " + key + (state.zoom[0] !== null || state.zoom[1] !== null ? " in this range." : ".");
      figure.appendChild(none);
      return;
    }
    var data = [xr];
    prepared.forEach(function (p) {
      var r = p ? extent([p], function (q) { return q.y; }) : null;
      data.push(r || [null, null]);
    });
    var axisStyle = {
      stroke: theme.axis, grid: { stroke: theme.grid, width: 1 }, ticks: { stroke: theme.grid, width: 1 }
    };
    var paths = pathsFor(prepared);
    var tip = my.compareSvg.tooltip(figure);
    var opts = {
      width: this.chartWidth(),
      height: HEIGHT,
      scales: { x: { time: state.x === "wall" }, y: { distr: state.log ? 3 : 1 } },
      axes: [
        Object.assign({ label: X_LABELS[state.x] }, axisStyle, state.x === "step" ? { incrs: STEP_INCREMENTS } : {}),
        Object.assign({ label: key, size: 70 }, axisStyle)
      ],
      legend: { live: false },
      cursor: { drag: { x: true, y: false, setScale: false }, points: { show: false } },
      series: [{ label: X_LABELS[state.x] }].concat(this.runs.map(function (run, i) {
        return {
          label: run.name,
          stroke: my.compareSvg.seriesColour(theme, i),
          dash: DASHES[Math.floor(i / theme.series.length) % DASHES.length] || undefined,
          width: 1.5,
          points: { show: false },
          spanGaps: true,
          paths: paths,
          show: counts[i] > 0
        };
      })),
      hooks: {
        setCursor: [function (u) { if (over) { hover(u, over, prepared, self.runs, key, state, tip, figure); } }],
        setSelect: [function (u) {
          if (u.select.width < 4) { return; }
          var low = u.posToVal(u.select.left, "x"), high = u.posToVal(u.select.left + u.select.width, "x");
          u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
          self.onZoom(fromPlotX(state.x, low), fromPlotX(state.x, high));
        }]
      }
    };
    var over = null;
    var plot = new window.uPlot(opts, data, figure);
    over = plot.root.querySelector(".u-over"); // the layer uPlot takes the mouse on (1.6.9 has no u.over)
    over.addEventListener("dblclick", function () { self.onZoom(null, null); });
    over.addEventListener("mouseleave", function () { tip.hide(); });
    this.plots.push(plot);
  };

  function describe(series, counts, totals, downsampled, state) {
    var drawn = counts.reduce(function (a, b) { return a + b; }, 0);
    var total = totals.reduce(function (a, b) { return a + b; }, 0);
    var nonFinite = series.reduce(function (a, s) {
      return a + (s ? s.non_finite.nan + s.non_finite.inf + s.non_finite.neg_inf : 0);
    }, 0);
    var parts = [];
    if (downsampled) {
      parts.push("downsampled: " + drawn.toLocaleString() + " of " + total.toLocaleString() +
        " points drawn (each bucket's first, last, lowest and highest)");
    } else {
      parts.push(drawn.toLocaleString() + " points");
    }
    if (nonFinite) { parts.push(nonFinite.toLocaleString() + " NaN or infinite values not drawn"); }
    if (state.smooth > 0) { parts.push("smoothed (" + state.smooth.toFixed(2) + ")"); }
    if (state.zoom[0] !== null || state.zoom[1] !== null) { parts.push("zoomed in"); }
    return parts.join(" · ");
  }

  function nearest(xs, x) {
    var lo = 0, hi = xs.length - 1;
    while (hi - lo > 1) {
      var mid = (lo + hi) >> 1;
      if (xs[mid] < x) { lo = mid; } else { hi = mid; }
    }
    return Math.abs(xs[lo] - x) <= Math.abs(xs[hi] - x) ? lo : hi;
  }

  /* the tooltip names the run whose line is nearest the cursor, with its point there */
  function hover(u, overEl, prepared, runs, key, state, tip, figure) {
    var left = u.cursor.left, top = u.cursor.top;
    if (left === null || left === undefined || left < 0) { tip.hide(); return; }
    var x = u.posToVal(left, "x"), best = null;
    for (var k = 0; k < prepared.length; k++) {
      var p = prepared[k];
      if (!p || !p.x.length || !u.series[k + 1].show) { continue; }
      var i = nearest(p.x, x), y = p.y[i];
      if (!isFinite(y)) { continue; }
      var d = Math.abs(u.valToPos(y, "y") - top) + 0.5 * Math.abs(u.valToPos(p.x[i], "x") - left);
      if (best === null || d < best.d) { best = { d: d, k: k, i: i }; }
    }
    if (best === null) { tip.hide(); return; }
    var q = prepared[best.k], xv = q.x[best.i];
    var xText = state.x === "wall" ? new Date(xv * 1000).toLocaleString() :
      state.x === "relative" ? my.compareSvg.formatNumber(xv) + " s" : String(xv);
    var lines = [runs[best.k].name, X_LABELS[state.x] + ": " + xText, key + ": " + String(q.raw[best.i])];
    if (state.smooth > 0) { lines.push("smoothed: " + my.compareSvg.formatNumber(q.y[best.i])); }
    var over = overEl.getBoundingClientRect(), box = figure.getBoundingClientRect();
    tip.show(lines, over.left - box.left + left, over.top - box.top + top);
  }

  function getJson(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) {
        if (!r.ok) {
          var message = (body && (body.message || body.error)) || ("the server answered " + r.status);
          throw new Error(r.status === 401 ? "your session has ended; reload the page to log in again." : message);
        }
        return body;
      });
    });
  }

  my.compareLines = { create: function (root, status, options) { return new Lines(root, status, options); } };
}());
