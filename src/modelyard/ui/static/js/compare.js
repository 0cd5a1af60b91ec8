/* The compare page: every choice is a field of #compare-form, so the URL is always the form (written
   with history.replaceState on each change, and read back by the server on a reload, which renders the
   same choices). This file wires the fields to the diff table's "only differences" toggle and to the
   three charts (compare-lines.js, compare-scatter.js, compare-parallel.js), and redraws the charts on
   a theme change and a resize. The runs' params and metrics come from the page (data-compare). */
(function () {
  "use strict";
  var my = window.modelyard = window.modelyard || {};

  function start() {
    var root = document.getElementById("compare");
    var form = document.getElementById("compare-form");
    if (!root || !form) { return; }
    var data = JSON.parse(root.getAttribute("data-compare"));
    var q = function (selector) { return document.querySelector(selector); };
    var all = function (selector) { return Array.prototype.slice.call(document.querySelectorAll(selector)); };
    all(".no-js").forEach(function (el) { el.hidden = true; });

    function checked(name) {
      return all('input[type="checkbox"][name="' + name + '"]').filter(function (el) { return el.checked; })
        .map(function (el) { return el.value; });
    }
    function value(selector) { var el = q(selector); return el ? el.value : ""; }
    function number(selector) { var v = value(selector); return v === "" ? null : parseFloat(v); }

    function state() {
      return {
        metrics: checked("metric"),
        x: value("[data-x-axis]") || "step",
        log: !!(q("[data-log]") && q("[data-log]").checked),
        smooth: parseFloat(value("[data-smooth]") || "0") || 0,
        zoom: [number("[data-zoom-min]"), number("[data-zoom-max]")]
      };
    }

    /* the URL: the form's fields, without the empty markers where a list has values */
    function writeUrl() {
      var fields = new URLSearchParams(new FormData(form));
      var out = new URLSearchParams();
      var filled = {};
      fields.forEach(function (v, k) { if (v !== "") { filled[k] = true; } });
      fields.forEach(function (v, k) {
        if (v === "" && (filled[k] || k === "xmin" || k === "xmax")) { return; }
        if (k === "smooth" && parseFloat(v) === 0) { return; }
        out.append(k, v);
      });
      window.history.replaceState(null, "", window.location.pathname + "?" + out.toString());
    }

    /* the diff table */
    var onlyDiff = q("[data-only-diff]");
    if (onlyDiff) {
      onlyDiff.addEventListener("change", function () {
        var on = onlyDiff.checked;
        all("[data-diff-table] tr[data-same]").forEach(function (tr) { tr.hidden = on; });
        q("[data-diff-table]").classList.toggle("only-diff", on);
        var shown = all("[data-diff-table] tr[data-differs]").length;
        my.announce(on ? "Showing the " + shown + " rows that differ" : "Showing every row");
        writeUrl();
      });
    }

    /* the metric charts */
    var linesRoot = q("[data-line-charts]");
    var lines = null;
    if (linesRoot) {
      lines = my.compareLines.create(linesRoot, q("[data-lines-status]"), {
        url: root.getAttribute("data-series-url"),
        runs: data.runs,
        keysPerRequest: parseInt(root.getAttribute("data-keys-per-request"), 10),
        onZoom: function (low, high) { setZoom(low, high); }
      });
      all('[data-metric-choices] input[type="checkbox"], [data-x-axis], [data-log]').forEach(function (el) {
        el.addEventListener("change", function () {
          if (el.matches("[data-x-axis]")) { setZoom(null, null, true); }
          writeUrl();
          lines.update(state());
        });
      });
      var slider = q("[data-smooth]"), out = q("[data-smooth-out]"), pending = false;
      slider.addEventListener("input", function () {
        out.textContent = parseFloat(slider.value).toFixed(2);
        if (pending) { return; }
        pending = true;
        window.requestAnimationFrame(function () { pending = false; lines.update(state()); });
      });
      slider.addEventListener("change", writeUrl);
      q("[data-zoom-reset]").addEventListener("click", function () { setZoom(null, null); });
      lines.update(state());
    }

    function setZoom(low, high, quiet) {
      q("[data-zoom-min]").value = low === null ? "" : String(roundish(low));
      q("[data-zoom-max]").value = high === null ? "" : String(roundish(high));
      var reset = q("[data-zoom-reset]");
      if (reset) { reset.hidden = low === null && high === null; }
      if (quiet) { return; }
      writeUrl();
      if (lines) { lines.update(state()); }
    }

    /* the scatter */
    var scatter = q("[data-scatter]");
    function drawScatter() {
      if (scatter) {
        my.compareScatter.draw(scatter, q("[data-scatter-note]"), data, value("[data-scatter-x]"), value("[data-scatter-y]"), my.theme());
      }
    }
    all("[data-scatter-x], [data-scatter-y]").forEach(function (el) {
      el.addEventListener("change", function () { writeUrl(); drawScatter(); });
    });

    /* the parallel coordinates */
    var parallel = q("[data-parallel]");
    function brushes() {
      return all("input[data-brush]").map(function (el) {
        var parts = el.value.split(":");
        var high = parseFloat(parts.pop()), low = parseFloat(parts.pop());
        return { dim: parts.join(":"), low: low, high: high };
      });
    }
    function setBrushes(list) {
      all("input[data-brush]").forEach(function (el) { el.parentNode.removeChild(el); });
      list.forEach(function (b) {
        var input = document.createElement("input");
        input.type = "hidden";
        input.name = "brush";
        input.setAttribute("data-brush", "");
        input.value = b.dim + ":" + b.low + ":" + b.high;
        form.appendChild(input);
      });
      q("[data-brush-clear]").hidden = !list.length;
    }
    function drawParallel() {
      if (!parallel) { return; }
      var dims = checked("dim");
      var kept = brushes().filter(function (b) { return dims.indexOf(b.dim) !== -1; });
      my.compareParallel.draw(parallel, q("[data-parallel-note]"), data, dims, value("[data-color]"), kept, my.theme(),
        function (list) { setBrushes(list); writeUrl(); });
    }
    all('[data-dim-choices] input[type="checkbox"], [data-color]').forEach(function (el) {
      el.addEventListener("change", function () {
        var dims = checked("dim");
        setBrushes(brushes().filter(function (b) { return dims.indexOf(b.dim) !== -1; }));
        writeUrl();
        drawParallel();
      });
    });
    var clearBrushes = q("[data-brush-clear]");
    if (clearBrushes) {
      clearBrushes.addEventListener("click", function () { setBrushes([]); writeUrl(); drawParallel(); });
    }

    drawScatter();
    drawParallel();

    document.addEventListener("modelyard:themechange", function () {
      if (lines) { lines.render(); }
      drawScatter();
      drawParallel();
    });
    var resizing = null, lastWidth = root.clientWidth;
    window.addEventListener("resize", function () {
      window.clearTimeout(resizing);
      resizing = window.setTimeout(function () {
        if (root.clientWidth === lastWidth) { return; }
        lastWidth = root.clientWidth;
        if (lines) { lines.resize(); }
        drawScatter();
        drawParallel();
      }, 200);
    });
  }

  function roundish(v) { return parseFloat(Number(v).toPrecision(10)); }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
