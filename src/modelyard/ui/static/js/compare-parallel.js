/* The compare page's parallel coordinates, in SVG (uPlot has none, and one chart does not justify a
   second library): a vertical axis per chosen param or metric (numeric: linear from the lowest to the
   highest value; categorical: the categories evenly spaced), a line per run through its values,
   coloured along a ramp by a chosen numeric dimension. Dragging along an axis keeps the runs inside
   that range (a brush; the others are dimmed and dashed), a click on an axis removes its brush.
   Brushes are fractions of the axis (0 at the bottom), reported to the page for its URL. */
(function () {
  "use strict";
  var my = window.modelyard = window.modelyard || {};
  var MARGIN = { top: 44, right: 70, bottom: 24, left: 70 };
  var HEIGHT = 400;
  var MIN_GAP = 120;

  function draw(container, note, data, dimIds, colourId, brushes, theme, onBrush) {
    var svgs = my.compareSvg;
    svgs.clear(container);
    container.setAttribute("data-theme", theme.name);
    container.setAttribute("data-lines", "0");
    container.setAttribute("data-lines-kept", "0");
    var byId = {};
    data.dims.forEach(function (d) { byId[d.id] = d; });
    var dims = dimIds.map(function (id) { return byId[id]; }).filter(Boolean);
    if (dims.length < 2) {
      note.textContent = "Choose at least two dimensions.";
      return;
    }
    var scales = dims.map(function (d) { return svgs.scale(d, d.values); });
    var lines = [];
    data.runs.forEach(function (run, i) {
      var pos = scales.map(function (s, k) { return s.pos(dims[k].values[i]); });
      if (pos.every(function (p) { return p !== null; })) { lines.push({ run: run, i: i, pos: pos }); }
    });
    var missing = data.runs.length - lines.length;

    var width = Math.max(container.clientWidth || 600, MARGIN.left + MARGIN.right + (dims.length - 1) * MIN_GAP);
    var plotW = width - MARGIN.left - MARGIN.right, plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
    var X = function (k) { return MARGIN.left + (dims.length > 1 ? k * plotW / (dims.length - 1) : plotW / 2); };
    var Y = function (p) { return MARGIN.top + (1 - p) * plotH; };
    var svg = svgs.el("svg", {
      width: width, height: HEIGHT, viewBox: "0 0 " + width + " " + HEIGHT, role: "img",
      "aria-label": "Parallel coordinates over " + dims.map(function (d) { return d.key; }).join(", ") +
        ": " + lines.length + " runs"
    }, container);

    var colourDim = byId[colourId];
    var colourScale = colourDim && colourDim.numeric ? svgs.scale(colourDim, colourDim.values) : null;
    var colourAt = svgs.ramp();
    var lineLayer = svgs.el("g", { "class": "lines" }, svg);
    var tip = svgs.tooltip(container);
    lines.forEach(function (line) {
      var d = line.pos.map(function (p, k) { return (k ? "L" : "M") + X(k).toFixed(1) + " " + Y(p).toFixed(1); }).join(" ");
      var t = colourScale ? colourScale.pos(colourDim.values[line.i]) : null;
      var stroke = t === null ? (colourScale ? theme.muted : theme.accent) : colourAt(t);
      line.path = svgs.el("path", { "class": "pc-line", d: d, stroke: stroke, "data-run-id": line.run.id }, lineLayer);
      line.path.addEventListener("mouseenter", function (event) {
        line.path.classList.add("active");
        var box = container.getBoundingClientRect();
        tip.show(tipLines(line, dims), event.clientX - box.left + container.scrollLeft, event.clientY - box.top);
      });
      line.path.addEventListener("mouseleave", function () { line.path.classList.remove("active"); tip.hide(); });
    });

    var state = {};
    (brushes || []).forEach(function (b) { state[b.dim] = [b.low, b.high]; });
    dims.forEach(function (dim, k) { drawAxis(svg, dim, scales[k], X(k), Y, plotH); });
    var brushLayer = svgs.el("g", { "class": "brushes" }, svg);

    function apply() {
      svgs.clear(brushLayer);
      var kept = 0;
      dims.forEach(function (dim, k) {
        var b = state[dim.id];
        if (b) {
          svgs.el("rect", { "class": "pc-brush", x: X(k) - 9, width: 18, y: Y(b[1]), height: Y(b[0]) - Y(b[1]) }, brushLayer);
        }
      });
      lines.forEach(function (line) {
        var inside = dims.every(function (dim, k) {
          var b = state[dim.id];
          return !b || (line.pos[k] >= b[0] - 1e-9 && line.pos[k] <= b[1] + 1e-9);
        });
        line.path.classList.toggle("filtered", !inside);
        if (inside) { kept += 1; }
      });
      container.setAttribute("data-lines-kept", String(kept));
      var parts = [];
      if (Object.keys(state).length) { parts.push(kept + " of " + lines.length + " runs inside the axis filters."); }
      if (missing) { parts.push(missing + " of " + data.runs.length + " runs lack a value on a chosen dimension and are not drawn."); }
      if (colourDim) { parts.push("Colour: " + colourDim.label + (colourScale ? " (" + svgs.formatNumber(colourScale.min) + " → " + svgs.formatNumber(colourScale.max) + ")" : "") + "."); }
      note.textContent = parts.join(" ");
    }

    dims.forEach(function (dim, k) {
      var hit = svgs.el("rect", { "class": "pc-axis-hit", x: X(k) - 12, y: MARGIN.top - 10, width: 24, height: plotH + 20 }, svg);
      wireBrush(svg, hit, function (a, b) {
        if (a === null) { delete state[dim.id]; } else { state[dim.id] = [a, b]; }
        apply();
        onBrush(Object.keys(state).map(function (id) { return { dim: id, low: state[id][0], high: state[id][1] }; }));
      }, Y, plotH);
    });
    apply();
    container.setAttribute("data-lines", String(lines.length));
  }

  function tipLines(line, dims) {
    var out = [line.run.name];
    dims.forEach(function (d) { out.push(d.key + ": " + String(d.values[line.i])); });
    return out;
  }

  function drawAxis(svg, dim, scale, x, Y, plotH) {
    var svgs = my.compareSvg;
    var g = svgs.el("g", { "class": "axis" }, svg);
    svgs.el("line", { x1: x, y1: Y(0), x2: x, y2: Y(1) }, g);
    var title = svgs.text(g, { "class": "axis-title", x: x, y: 18, "text-anchor": "middle" }, svgs.truncate(dim.key, 18));
    svgs.el("title", {}, title).textContent = dim.label;
    svgs.text(g, { x: x, y: 32, "text-anchor": "middle", "class": "muted" }, dim.kind + (dim.numeric ? "" : ", categories"));
    var step = Math.max(1, Math.ceil(scale.ticks.length / Math.max(1, Math.floor(plotH / 18))));
    scale.ticks.forEach(function (t, k) {
      if (k % step) { return; }
      var y = Y(t.pos);
      svgs.el("line", { x1: x - 4, y1: y, x2: x, y2: y }, g);
      var label = svgs.text(g, { x: x - 7, y: y + 4, "text-anchor": "end" }, svgs.truncate(t.label, 10));
      if (t.label.length > 10) { svgs.el("title", {}, label).textContent = t.label; }
    });
  }

  /* a drag along the axis: onChange(low, high) in axis fractions, or (null) for a click */
  function wireBrush(svg, hit, onChange, Y, plotH) {
    var top = Y(1);
    function fraction(event) {
      var box = svg.getBoundingClientRect();
      var y = event.clientY - box.top;
      return Math.min(1, Math.max(0, 1 - (y - top) / plotH));
    }
    hit.addEventListener("pointerdown", function (event) {
      event.preventDefault();
      var start = fraction(event), end = start;
      var x = +hit.getAttribute("x") + 3;
      var preview = my.compareSvg.el("rect", { "class": "pc-brush", x: x, width: 18, y: Y(start), height: 0 }, svg);
      if (hit.setPointerCapture) { hit.setPointerCapture(event.pointerId); }
      function move(e) {
        end = fraction(e);
        preview.setAttribute("y", String(Y(Math.max(start, end))));
        preview.setAttribute("height", String(Math.abs(Y(start) - Y(end))));
      }
      function up() {
        hit.removeEventListener("pointermove", move);
        hit.removeEventListener("pointerup", up);
        svg.removeChild(preview);
        var low = Math.min(start, end), high = Math.max(start, end);
        if (high - low < 0.01) { onChange(null); return; }
        // a brush that ends within a few pixels of the axis' end reaches it (its extreme value included)
        var snap = 4 / plotH;
        onChange(low < snap ? 0 : round(low), high > 1 - snap ? 1 : round(high));
      }
      hit.addEventListener("pointermove", move);
      hit.addEventListener("pointerup", up);
    });
  }

  function round(v) { return Math.round(v * 1000) / 1000; }

  my.compareParallel = { draw: draw };
}());
