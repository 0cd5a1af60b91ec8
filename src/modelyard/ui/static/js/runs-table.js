/* The runs table: a window of rows that scrolls through any number of runs, the filter box's key
   autocomplete, the column chooser's search, the selection, and opening a parent's children.

   The page holds at most data-max-rows rows: scrolling near an edge fetches the next rows by keyset
   (/ui/fragments/runs-table/rows?...&after=<run id> or &before=<run id>) and drops as many from
   the other edge. The run at the top of the view is kept in the URL (from=<run id>), the selection
   too (sel=<id>,<id>), so a reload or a shared link shows the same view. No inline script: the
   pages' CSP forbids it. */
(function () {
  "use strict";
  var my = window.modelyard = window.modelyard || {};
  var MAX_SELECTED = 200;
  var ATTRIBUTES = ["run_id", "run_name", "status", "user_id", "start_time", "end_time", "artifact_uri", "lifecycle_stage"];

  function announce(text) { if (my.announce) { my.announce(text); } }

  function params() { return new URLSearchParams(window.location.search); }

  function urlWith(changes) {
    var p = params();
    Object.keys(changes).forEach(function (name) {
      if (changes[name]) { p.set(name, changes[name]); } else { p.delete(name); }
    });
    var query = p.toString();
    return window.location.pathname + (query ? "?" + query : "");
  }

  function setParams(changes) {
    window.history.replaceState(window.history.state, "", urlWith(changes));
  }

  /* ---- the window ---------------------------------------------------------------------------- */
  function wireWindow(region) {
    var scroller = region.querySelector("[data-runs-scroll]");
    var body = region.querySelector("[data-runs-body]");
    var table = region.querySelector("[data-runs-table]");
    if (!scroller || !body || !table) { return null; }
    var rowsUrl = region.getAttribute("data-rows-url");
    var maxRows = parseInt(region.getAttribute("data-max-rows"), 10) || 160;
    var more = {
      before: region.getAttribute("data-more-before") === "true",
      after: region.getAttribute("data-more-after") === "true"
    };
    var loading = false;
    var fromTimer = null;
    var edges = {
      before: region.querySelector("[data-load-before]"),
      after: region.querySelector("[data-load-after]")
    };

    function showEdges() {
      if (edges.before) { edges.before.parentNode.hidden = !more.before; }
      if (edges.after) { edges.after.parentNode.hidden = !more.after; }
    }

    function rowHeight() { return body.rows.length ? body.rows[0].offsetHeight || 36 : 36; }

    function firstVisible() {
      var head = table.tHead ? table.tHead.getBoundingClientRect().height : 0;
      var top = scroller.getBoundingClientRect().top + head;
      for (var i = 0; i < body.rows.length; i++) {
        if (body.rows[i].getBoundingClientRect().bottom > top + 1) { return body.rows[i]; }
      }
      return null;
    }

    function keepFrom() {
      window.clearTimeout(fromTimer);
      fromTimer = window.setTimeout(function () {
        var row = firstVisible();
        var atStart = !more.before && row === body.rows[0];
        setParams({ from: row && !atStart ? row.getAttribute("data-run-id") : "" });
      }, 150);
    }

    function trim(direction) {
      var extra = body.rows.length - maxRows;
      if (extra <= 0) { return; }
      if (direction === "top") {
        var height = scroller.scrollHeight;
        for (var i = 0; i < extra; i++) { body.removeChild(body.rows[0]); }
        scroller.scrollTop -= height - scroller.scrollHeight;
        more.before = true;
      } else {
        for (var j = 0; j < extra; j++) { body.removeChild(body.rows[body.rows.length - 1]); }
        more.after = true;
      }
    }

    function insert(direction, html, hasMore) {
      var template = document.createElement("template");
      template.innerHTML = html;
      var fresh = Array.prototype.slice.call(template.content.querySelectorAll("tr"));
      var fragment = document.createDocumentFragment();
      fresh.forEach(function (tr) { fragment.appendChild(tr); });
      if (direction === "after") {
        body.appendChild(fragment);
        more.after = hasMore;
        trim("top");
      } else {
        var height = scroller.scrollHeight;
        body.insertBefore(fragment, body.firstChild);
        scroller.scrollTop += scroller.scrollHeight - height;
        more.before = hasMore;
        trim("bottom");
      }
      if (my.localizeTimes) { my.localizeTimes(body); }
      region.dispatchEvent(new CustomEvent("runs:rows", { detail: { rows: fresh } }));
      showEdges();
      return fresh;
    }

    function load(direction) {
      if (loading || !more[direction] || !body.rows.length) { return Promise.resolve([]); }
      var anchor = direction === "after" ? body.rows[body.rows.length - 1] : body.rows[0];
      loading = true;
      table.setAttribute("aria-busy", "true");
      var url = rowsUrl + "&" + direction + "=" + encodeURIComponent(anchor.getAttribute("data-run-id"));
      return window.fetch(url, { headers: { "HX-Request": "true" }, credentials: "same-origin" })
        .then(function (answer) {
          var login = answer.headers.get("HX-Redirect");
          if (login) { window.location.assign(login); return []; }
          if (!answer.ok) { throw new Error("status " + answer.status); }
          var hasMore = answer.headers.get("X-Runs-More") === "1";
          return answer.text().then(function (html) { return insert(direction, html, hasMore); });
        })
        .catch(function () {
          announce("The next runs could not be loaded; scroll again to retry.");
          return [];
        })
        .then(function (rows) {
          loading = false;
          table.setAttribute("aria-busy", "false");
          onScroll();
          return rows;
        });
    }

    function onScroll() {
      var margin = rowHeight() * 15;
      if (more.after && scroller.scrollTop + scroller.clientHeight > scroller.scrollHeight - margin) {
        load("after");
      } else if (more.before && scroller.scrollTop < margin) {
        load("before");
      }
      keepFrom();
    }

    scroller.addEventListener("scroll", onScroll, { passive: true });
    /* the links at the edges work without this script (they load the page from there); with it,
       "More runs" loads in place and moves the focus to the first new run */
    if (edges.after) {
      edges.after.addEventListener("click", function (event) {
        event.preventDefault();
        load("after").then(function (rows) {
          var link = rows.length && rows[0].querySelector("[data-run-link]");
          if (link) { link.focus(); }
        });
      });
    }
    showEdges();
    window.setTimeout(onScroll, 0);
    return { firstVisible: firstVisible };
  }

  /* ---- selection ----------------------------------------------------------------------------- */
  function wireSelection(region) {
    var bar = region.querySelector("[data-selection-bar]");
    var selected = (params().get("sel") || "").split(",").filter(Boolean);

    function update() {
      setParams({ sel: selected.join(",") });
      if (!bar) { return; }
      bar.hidden = !selected.length;
      bar.querySelector("[data-selected-count]").textContent = selected.length + " selected";
      var compare = bar.querySelector("[data-compare-link]");
      compare.hidden = selected.length < 2;
      compare.setAttribute("href", "/compare?runs=" + selected.join(","));
      Array.prototype.forEach.call(bar.querySelectorAll("[data-selected-input]"), function (input) {
        input.value = selected.join(",");
      });
    }

    function mark(rows) {
      rows.forEach(function (row) {
        var box = row.querySelector("[data-select-run]");
        if (box) { box.checked = selected.indexOf(box.value) !== -1; }
      });
    }

    region.addEventListener("change", function (event) {
      var box = event.target;
      if (!box.matches || !box.matches("[data-select-run]")) { return; }
      var at = selected.indexOf(box.value);
      if (box.checked && at === -1) {
        if (selected.length >= MAX_SELECTED) {
          box.checked = false;
          announce("At most " + MAX_SELECTED + " runs can be selected.");
          return;
        }
        selected.push(box.value);
      } else if (!box.checked && at !== -1) {
        selected.splice(at, 1);
      }
      update();
      announce(selected.length + " selected");
    });
    region.addEventListener("runs:rows", function (event) { mark(event.detail.rows); });
    var clear = region.querySelector("[data-clear-selection]");
    if (clear) {
      clear.addEventListener("click", function () {
        selected = [];
        mark(Array.prototype.slice.call(region.querySelectorAll("[data-runs-body] tr")));
        update();
        announce("Selection cleared");
      });
    }
    Array.prototype.forEach.call(region.querySelectorAll("[data-lifecycle-form]"), function (form) {
      form.addEventListener("submit", function () {
        form.querySelector("[data-back-input]").value = window.location.pathname + window.location.search;
      });
    });
  }

  /* ---- opening a parent's children, keeping the position ------------------------------------ */
  function topRun(region) {
    var row = region && region.runsView ? region.runsView.firstVisible() : null;
    return row ? row.getAttribute("data-run-id") : "";
  }

  /* the column chooser and "Default columns" keep the run at the top of the view */
  document.addEventListener("htmx:configRequest", function (event) {
    var source = event.detail.elt;
    if (!source || !source.closest || !source.closest("[data-keep-position]")) { return; }
    var id = topRun(source.closest("[data-runs-region]"));
    if (id) { event.detail.parameters.from = id; }
  });

  function wireOpen(region) {
    region.addEventListener("click", function (event) {
      var button = event.target.closest ? event.target.closest("[data-toggle-open]") : null;
      if (!button || !window.htmx) { return; }
      var id = button.getAttribute("data-toggle-open");
      var open = (params().get("open") || "").split(",").filter(Boolean);
      var at = open.indexOf(id);
      if (at === -1) { open.push(id); } else { open.splice(at, 1); }
      var url = urlWith({ open: open.join(","), from: topRun(region) });
      window.history.pushState({}, "", url);
      window.htmx.ajax("GET", url, { target: "#runs-region", select: "#runs-region", swap: "outerHTML" });
    });
  }

  /* ---- the column chooser -------------------------------------------------------------------- */
  function wireChooser(region) {
    var chooser = region.querySelector("[data-column-chooser]");
    if (!chooser) { return; }
    var search = chooser.querySelector("[data-column-search]");
    var none = chooser.querySelector("[data-column-none]");
    search.addEventListener("input", function () {
      var text = search.value.trim().toLowerCase();
      var shown = 0;
      Array.prototype.forEach.call(chooser.querySelectorAll("[data-column-option]"), function (option) {
        var hit = !text || option.getAttribute("data-name").indexOf(text) !== -1 ||
          option.textContent.toLowerCase().indexOf(text) !== -1;
        option.hidden = !hit;
        shown += hit ? 1 : 0;
      });
      Array.prototype.forEach.call(chooser.querySelectorAll("[data-column-group]"), function (group) {
        group.hidden = !group.querySelector("[data-column-option]:not([hidden])") && !!text;
      });
      none.hidden = shown > 0;
    });
    chooser.addEventListener("toggle", function () { if (chooser.open) { search.focus(); } });
    chooser.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && chooser.open) {
        event.preventDefault();
        chooser.open = false;
        chooser.querySelector("summary").focus();
      }
    });
  }

  /* ---- the filter box: key autocomplete and the error's place -------------------------------- */
  function quoted(prefix, key) {
    return /^\w+(\.\w+)*$/.test(key) ? prefix + "." + key : prefix + ".`" + key + "`";
  }

  function suggestions(region) {
    var keys = {};
    try { keys = JSON.parse(region.getAttribute("data-keys") || "{}"); } catch (e) { keys = {}; }
    var out = [];
    (keys.metrics || []).forEach(function (k) { out.push(quoted("metrics", k)); });
    (keys.params || []).forEach(function (k) { out.push(quoted("params", k)); });
    (keys.tags || []).forEach(function (k) { out.push(quoted("tags", k)); });
    ATTRIBUTES.forEach(function (a) { out.push("attributes." + a); });
    return out;
  }

  function wireFilter(region) {
    var input = region.querySelector("#runs-filter");
    var list = region.querySelector("#runs-filter-keys");
    if (!input || !list) { return; }
    var all = suggestions(region);
    var active = -1;
    var shown = [];

    function token() {
      var caret = input.selectionStart || 0;
      var text = input.value;
      var start = caret;
      while (start > 0 && !/[\s()=<>!,]/.test(text.charAt(start - 1))) { start--; }
      return { start: start, end: caret, text: text.slice(start, caret) };
    }

    function close() {
      list.hidden = true;
      list.innerHTML = "";
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
      shown = [];
    }

    function highlight(index) {
      active = index;
      Array.prototype.forEach.call(list.children, function (li, i) {
        li.setAttribute("aria-selected", i === index ? "true" : "false");
      });
      if (index >= 0 && list.children[index]) {
        input.setAttribute("aria-activedescendant", list.children[index].id);
        list.children[index].scrollIntoView({ block: "nearest" });
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }

    function open() {
      var t = token();
      var word = t.text.toLowerCase();
      if (!word || /^['"`]/.test(word)) { close(); return; }
      shown = all.filter(function (s) {
        var lower = s.toLowerCase();
        var key = lower.slice(lower.indexOf(".") + 1);
        return lower !== word && (lower.indexOf(word) === 0 || key.indexOf(word) === 0);
      }).slice(0, 50);
      if (!shown.length) { close(); return; }
      list.innerHTML = "";
      shown.forEach(function (s, i) {
        var li = document.createElement("li");
        li.id = "runs-filter-key-" + i;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        li.textContent = s;
        list.appendChild(li);
      });
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
      highlight(-1);
    }

    function pick(index) {
      var t = token();
      var chosen = shown[index];
      if (!chosen) { return; }
      input.value = input.value.slice(0, t.start) + chosen + " " + input.value.slice(t.end);
      var caret = t.start + chosen.length + 1;
      input.setSelectionRange(caret, caret);
      close();
    }

    input.addEventListener("input", open);
    input.addEventListener("blur", function () { window.setTimeout(close, 100); });
    input.addEventListener("keydown", function (event) {
      if (list.hidden) { return; }
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        if (event.key === "ArrowDown") {
          highlight(active + 1 >= shown.length ? 0 : active + 1);
        } else {
          highlight(active - 1 < 0 ? shown.length - 1 : active - 1);
        }
      } else if ((event.key === "Enter" || event.key === "Tab") && active >= 0) {
        event.preventDefault();
        pick(active);
      } else if (event.key === "Escape") {
        event.preventDefault();
        close();
      }
    });
    list.addEventListener("mousedown", function (event) {
      var li = event.target.closest ? event.target.closest("li") : null;
      if (!li) { return; }
      event.preventDefault();
      pick(Array.prototype.indexOf.call(list.children, li));
    });

    /* a refused filter: its bad part selected, so typing replaces it */
    var start = input.getAttribute("data-error-start");
    var end = input.getAttribute("data-error-end");
    if (start !== null && start !== "" && end !== null && end !== "") {
      window.setTimeout(function () {
        input.setSelectionRange(parseInt(start, 10), Math.max(parseInt(start, 10), parseInt(end, 10)));
      }, 0);
    }
  }

  /* the table is busy while htmx loads another view of it (the swap replaces the region) */
  document.addEventListener("htmx:beforeRequest", function (event) {
    var target = event.detail.target;
    if (target && target.id === "runs-region") { target.setAttribute("aria-busy", "true"); }
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var target = event.detail.target;
    if (target && target.id === "runs-region" && target.isConnected) { target.removeAttribute("aria-busy"); }
  });

  function init(region) {
    if (!region || region.hasAttribute("data-ready")) { return; }
    region.setAttribute("data-ready", "");
    wireFilter(region);
    wireChooser(region);
    wireSelection(region);
    region.runsView = wireWindow(region);
    wireOpen(region);
  }

  function scan(root) {
    if (!root || !root.querySelectorAll) { return; }
    if (root.matches && root.matches("[data-runs-region]")) { init(root); }
    Array.prototype.forEach.call(root.querySelectorAll("[data-runs-region]"), init);
  }

  document.addEventListener("htmx:load", function (event) { scan(event.target); });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { scan(document); });
  } else {
    scan(document);
  }
}());
