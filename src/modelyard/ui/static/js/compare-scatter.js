/* The compare page's scatter: one point per run at (param or metric, param or metric), drawn in SVG.
   A numeric dimension is a linear axis, a categorical one (params that are not all numbers) has its
   categories evenly spaced; a run without a value on either axis is left out and the note says how
   many were. Hovering a point shows the run and its two values. */
(function () {
  "use strict";
  var my = window.modelyard = window.modelyard || {};
  var MARGIN = { top: 16, right: 24, bottom: 56, left: 84 };
  var HEIGHT = 380;

  function draw(container, note, data, xId, yId, theme) {
    var svgs = my.compareSvg;
    svgs.clear(container);
    container.setAttribute("data-theme", theme.name);
    var dims = {};
    data.dims.forEach(function (d) { dims[d.id] = d; });
    var dx = dims[xId], dy = dims[yId];
    container.setAttribute("data-points", "0");
    if (!dx || !dy) { note.textContent = "Choose a param or metric for each axis."; return; }
    var sx = svgs.scale(dx, dx.values), sy = svgs.scale(dy, dy.values);
    var points = [];
    data.runs.forEach(function (run, i) {
      var px = sx.pos(dx.values[i]), py = sy.pos(dy.values[i]);
      if (px !== null && py !== null) { points.push({ run: run, i: i, px: px, py: py, x: dx.values[i], y: dy.values[i] }); }
    });
    var left = data.runs.length - points.length;
    note.textContent = left ? left + " of " + data.runs.length + " runs have no value of " + dx.key +
      (dx.id === dy.id ? "" : " or " + dy.key) + " and are not shown." : "";

    var width = Math.max(container.clientWidth || 600, 360);
    var plotW = width - MARGIN.left - MARGIN.right, plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
    var svg = svgs.el("svg", {
      width: width, height: HEIGHT, viewBox: "0 0 " + width + " " + HEIGHT, role: "img",
      "aria-label": "Scatter of " + dy.label + " against " + dx.label + ": " + points.length + " runs"
    }, container);
    var X = function (p) { return MARGIN.left + p * plotW; };
    var Y = function (p) { return MARGIN.top + (1 - p) * plotH; };
    // numeric axes get a little room at both ends so that no point sits on the frame
    var pad = function (p, s) { return s.numeric ? 0.04 + p * 0.92 : p; };

    var grid = svgs.el("g", { "class": "grid" }, svg);
    var axes = svgs.el("g", { "class": "axis" }, svg);
    svgs.el("line", { x1: MARGIN.left, y1: MARGIN.top + plotH, x2: MARGIN.left + plotW, y2: MARGIN.top + plotH }, axes);
    svgs.el("line", { x1: MARGIN.left, y1: MARGIN.top, x2: MARGIN.left, y2: MARGIN.top + plotH }, axes);
    var step = Math.max(1, Math.ceil(sx.ticks.length / Math.max(1, Math.floor(plotW / 70))));
    sx.ticks.forEach(function (t, k) {
      var x = X(pad(t.pos, sx));
      svgs.el("line", { x1: x, y1: MARGIN.top, x2: x, y2: MARGIN.top + plotH }, grid);
      if (k % step) { return; }
      var label = svgs.text(axes, { x: x, y: MARGIN.top + plotH + 16, "text-anchor": "middle" }, svgs.truncate(t.label, 12));
      if (t.label.length > 12) { svgs.el("title", {}, label).textContent = t.label; }
    });
    var ystep = Math.max(1, Math.ceil(sy.ticks.length / Math.max(1, Math.floor(plotH / 22))));
    sy.ticks.forEach(function (t, k) {
      var y = Y(pad(t.pos, sy));
      svgs.el("line", { x1: MARGIN.left, y1: y, x2: MARGIN.left + plotW, y2: y }, grid);
      if (k % ystep) { return; }
      var label = svgs.text(axes, { x: MARGIN.left - 6, y: y + 4, "text-anchor": "end" }, svgs.truncate(t.label, 11));
      if (t.label.length > 11) { svgs.el("title", {}, label).textContent = t.label; }
    });
    svgs.text(svg, { "class": "axis-title", x: MARGIN.left + plotW / 2, y: HEIGHT - 12, "text-anchor": "middle" },
      svgs.truncate(dx.label, 60));
    svgs.text(svg, {
      "class": "axis-title", x: 14, y: MARGIN.top + plotH / 2, "text-anchor": "middle",
      transform: "rotate(-90 14 " + (MARGIN.top + plotH / 2) + ")"
    }, svgs.truncate(dy.label, 40));

    var tip = svgs.tooltip(container);
    var layer = svgs.el("g", { "class": "points" }, svg);
    points.forEach(function (p) {
      var circle = svgs.el("circle", {
        "class": "point", cx: X(pad(p.px, sx)), cy: Y(pad(p.py, sy)), r: 5,
        fill: svgs.seriesColour(theme, p.i), "data-run-id": p.run.id
      }, layer);
      var lines = [p.run.name, dx.key + ": " + show(p.x), dy.key + ": " + show(p.y)];
      circle.addEventListener("mouseenter", function () {
        circle.classList.add("active");
        tip.show(lines, +circle.getAttribute("cx"), +circle.getAttribute("cy"));
      });
      circle.addEventListener("mouseleave", function () { circle.classList.remove("active"); tip.hide(); });
    });
    container.setAttribute("data-points", String(points.length));
  }

  function show(value) {
    return String(value);
  }

  my.compareScatter = { draw: draw };
}());
