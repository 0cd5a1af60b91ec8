/* The UI's behaviour on every page: the CSRF header on htmx requests, times in the browser's time
   zone, the theme switch, "/" to search, announcements in the live region, and the hash of an MLflow
   link carried through the login form. No inline script anywhere: the pages' CSP forbids it. */
(function () {
  "use strict";
  var my = window.modelyard = window.modelyard || {};

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRF-Token"] = csrfToken();
  });

  /* <time datetime="ISO"> shown in the browser's time zone, the absolute time (with the zone) on hover */
  var formatter = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "local time";
  function localizeTimes(root) {
    var times = (root || document).querySelectorAll("time[datetime]:not([data-localized])");
    for (var i = 0; i < times.length; i++) {
      var el = times[i];
      var when = new Date(el.getAttribute("datetime"));
      if (isNaN(when.getTime())) { continue; }
      el.textContent = formatter.format(when);
      el.title = when.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC") + " (shown in " + zone + ")";
      el.setAttribute("data-localized", "");
    }
  }
  my.localizeTimes = localizeTimes;

  function announce(text) {
    var region = document.getElementById("live-region");
    if (!region) { return; }
    region.textContent = "";
    window.setTimeout(function () { region.textContent = text; }, 50);
  }
  my.announce = announce;
  /* a fragment can say something to screen readers: HX-Trigger: {"modelyard:announce": "3 runs match"} */
  document.addEventListener("modelyard:announce", function (event) {
    var detail = event.detail;
    announce(typeof detail === "string" ? detail : (detail && detail.value) || "");
  });

  /* an htmx request refused (403, 404, 500...): the error page's message, shown above the content */
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    var text = "The request failed (" + xhr.status + ").";
    try {
      var doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
      var found = doc.querySelector("[data-error-message]");
      if (found) { text = found.textContent; }
    } catch (e) { /* not HTML */ }
    var main = document.getElementById("main");
    var box = document.getElementById("request-error");
    if (!box) {
      box = document.createElement("p");
      box.id = "request-error";
      box.className = "alert alert-error";
      box.setAttribute("role", "alert");
      main.insertBefore(box, main.firstChild);
    }
    box.textContent = text;
  });

  function wireThemeSelect() {
    var select = document.querySelector("[data-theme-select]");
    if (!select) { return; }
    select.value = my.themeChoice ? my.themeChoice() : "system";
    select.addEventListener("change", function () {
      my.setTheme(select.value);
      announce(select.options[select.selectedIndex].text + " on");
    });
  }

  /* "/" focuses the page's search box (unless one is typing somewhere) */
  document.addEventListener("keydown", function (event) {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) { return; }
    var target = event.target;
    var tag = target && target.tagName;
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable)) { return; }
    var search = document.querySelector("[data-search]") || document.querySelector('input[type="search"]');
    if (search) {
      event.preventDefault();
      search.focus();
      if (search.select) { search.select(); }
    }
  });

  /* an MLflow link's hash (/#/experiments/2/runs/...) survives the redirect to the login page but not
     the form's POST: it goes into "next" */
  function carryHash() {
    if (!window.location.hash) { return; }
    var fields = document.querySelectorAll("input[data-next]");
    for (var i = 0; i < fields.length; i++) {
      if (fields[i].value.indexOf("#") === -1) { fields[i].value += window.location.hash; }
    }
  }

  function start() {
    localizeTimes(document);
    wireThemeSelect();
    carryHash();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
  document.addEventListener("htmx:load", function (event) { localizeTimes(event.target); });
}());
