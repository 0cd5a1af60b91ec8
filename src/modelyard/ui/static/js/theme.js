/* Applies the saved theme before the first paint (loaded blocking in <head>), and exposes the
   theme's colours for charts: window.modelyard.theme() and the "modelyard:themechange" event. */
(function () {
  "use strict";
  var KEY = "modelyard-theme";
  var root = document.documentElement;
  var media = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;

  function choice() {
    var saved = null;
    try { saved = window.localStorage.getItem(KEY); } catch (e) { /* storage blocked */ }
    return saved === "light" || saved === "dark" ? saved : "system";
  }

  function resolved(pick) {
    if (pick === "system") { return media && media.matches ? "dark" : "light"; }
    return pick;
  }

  function apply(pick) {
    var before = root.getAttribute("data-theme");
    var now = resolved(pick);
    root.setAttribute("data-theme", now);
    root.setAttribute("data-theme-choice", pick);
    if (before && before !== now) {
      document.dispatchEvent(new CustomEvent("modelyard:themechange", { detail: theme() }));
    }
  }

  function read(name) {
    return getComputedStyle(root).getPropertyValue(name).trim();
  }

  /* The colours charts need, read from the stylesheet's variables. */
  function theme() {
    var series = [];
    for (var i = 1; i <= 8; i++) { series.push(read("--series-" + i)); }
    return {
      name: root.getAttribute("data-theme") || "light",
      background: read("--bg"),
      foreground: read("--fg"),
      muted: read("--fg-muted"),
      grid: read("--chart-grid"),
      axis: read("--chart-axis"),
      accent: read("--accent"),
      series: series
    };
  }

  function setTheme(pick) {
    if (pick !== "light" && pick !== "dark") { pick = "system"; }
    try { window.localStorage.setItem(KEY, pick); } catch (e) { /* storage blocked */ }
    apply(pick);
  }

  apply(choice());
  if (media && media.addEventListener) {
    media.addEventListener("change", function () { if (choice() === "system") { apply("system"); } });
  }
  window.modelyard = window.modelyard || {};
  window.modelyard.theme = theme;
  window.modelyard.setTheme = setTheme;
  window.modelyard.themeChoice = choice;
}());
