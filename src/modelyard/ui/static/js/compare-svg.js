/* What the compare page's SVG charts (scatter, parallel coordinates) share: making SVG elements,
   scales for numeric and categorical dimensions with their ticks, number formatting, a colour ramp
   between two theme colours, and a tooltip. Text goes in with textContent only, never as markup. */
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var my = window.modelyard = window.modelyard || {};

  function el(name, attrs, parent) {
    var node = document.createElementNS(NS, name);
    for (var key in attrs) {
      if (Object.prototype.hasOwnProperty.call(attrs, key) && attrs[key] !== null && attrs[key] !== undefined) {
        node.setAttribute(key, String(attrs[key]));
      }
    }
    if (parent) { parent.appendChild(node); }
    return node;
  }

  function text(parent, attrs, content) {
    var node = el("text", attrs, parent);
    node.textContent = content;
    return node;
  }

  function formatNumber(value) {
    if (value === null || value === undefined || !isFinite(value)) { return String(value); }
    if (value === 0) { return "0"; }
    var abs = Math.abs(value);
    if (abs >= 1e6 || abs < 1e-3) { return value.toExponential(2).replace(/\.?0+e/, "e"); }
    return String(parseFloat(value.toPrecision(4)));
  }

  function truncate(value, n) {
    value = String(value);
    return value.length > n ? value.slice(0, n - 1) + "…" : value;
  }

  /* about `count` round ticks between min and max */
  function niceTicks(min, max, count) {
    if (!(max > min)) { return [min]; }
    var step = Math.pow(10, Math.floor(Math.log10((max - min) / count)));
    var err = (max - min) / count / step;
    if (err >= 7.5) { step *= 10; } else if (err >= 3.5) { step *= 5; } else if (err >= 1.5) { step *= 2; }
    var ticks = [];
    for (var v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) {
      ticks.push(Math.abs(v) < step * 1e-9 ? 0 : parseFloat(v.toPrecision(12)));
    }
    return ticks;
  }

  /* A dimension's scale: pos(value) in [0, 1] (0 at the axis' start), null for a value not drawn;
     ticks as {pos, label}. Numeric: from the lowest to the highest value; categorical: evenly spaced. */
  function scale(dim, values) {
    if (dim.numeric) {
      var present = values.filter(function (v) { return v !== null && isFinite(v); });
      var min = Math.min.apply(null, present), max = Math.max.apply(null, present);
      if (!present.length) { min = 0; max = 1; }
      var span = max - min;
      var pos = function (v) {
        if (v === null || !isFinite(v)) { return null; }
        return span > 0 ? (v - min) / span : 0.5;
      };
      var ticks = span > 0 ? niceTicks(min, max, 5) : [min];
      return {
        numeric: true, min: min, max: max, pos: pos,
        ticks: ticks.map(function (t) { return { pos: pos(t), label: formatNumber(t) }; })
      };
    }
    var cats = dim.categories, index = {};
    cats.forEach(function (c, i) { index[c] = i; });
    var catPos = function (v) {
      if (v === null || !(v in index)) { return null; }
      return cats.length > 1 ? (index[v] + 0.5) / cats.length : 0.5;
    };
    return {
      numeric: false, pos: catPos,
      ticks: cats.map(function (c) { return { pos: catPos(c), label: c }; })
    };
  }

  function parseColour(value) {
    value = (value || "").trim();
    var m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(value);
    if (m) { return [parseInt(m[1], 16), parseInt(m[2], 16), parseInt(m[3], 16)]; }
    m = /^rgba?\((\d+),\s*(\d+),\s*(\d+)/i.exec(value);
    if (m) { return [+m[1], +m[2], +m[3]]; }
    return [128, 128, 128];
  }

  /* a colour along the page's --scale-low, --scale-mid, --scale-high (compare.css), t in [0, 1] */
  function ramp() {
    var style = getComputedStyle(document.documentElement);
    var stops = ["--scale-low", "--scale-mid", "--scale-high"].map(function (name) {
      return parseColour(style.getPropertyValue(name));
    });
    return function (t) {
      var k = t < 0.5 ? 0 : 1, f = t < 0.5 ? t * 2 : (t - 0.5) * 2;
      var a = stops[k], b = stops[k + 1];
      var c = a.map(function (v, i) { return Math.round(v + (b[i] - v) * f); });
      return "rgb(" + c.join(",") + ")";
    };
  }

  /* the i-th run's colour (the same in every chart and in the table's swatches) */
  function seriesColour(theme, i) {
    return theme.series[i % theme.series.length];
  }

  function tooltip(container) {
    var tip = document.createElement("div");
    tip.className = "chart-tip";
    tip.hidden = true;
    container.appendChild(tip);
    return {
      show: function (lines, x, y) {
        tip.textContent = lines.join("\n");
        tip.hidden = false;
        var maxLeft = container.clientWidth - tip.offsetWidth - 4;
        tip.style.left = Math.max(0, Math.min(x + 12, maxLeft)) + "px";
        tip.style.top = Math.max(0, y - tip.offsetHeight - 8) + "px";
      },
      hide: function () { tip.hidden = true; }
    };
  }

  function clear(container) {
    while (container.firstChild) { container.removeChild(container.firstChild); }
  }

  my.compareSvg = {
    el: el, text: text, scale: scale, niceTicks: niceTicks, formatNumber: formatNumber,
    truncate: truncate, ramp: ramp, seriesColour: seriesColour, tooltip: tooltip, clear: clear
  };
}());
