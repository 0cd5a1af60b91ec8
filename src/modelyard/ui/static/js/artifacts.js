/* The artifact browser's small helpers: "copy its runs:/ URI" buttons (the URI is in the button's
   data-copy attribute) and the register form's busy state. Everything else on the tab is links and
   plain forms, which work without scripts. */
(function () {
  "use strict";
  var my = window.modelyard = window.modelyard || {};

  function copy(text) {
    if (navigator.clipboard && window.isSecureContext) { return navigator.clipboard.writeText(text); }
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "visually-hidden";
    document.body.appendChild(area);
    area.select();
    var done = false;
    try { done = document.execCommand("copy"); } catch (e) { done = false; }
    document.body.removeChild(area);
    return done ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }

  function start() {
    var buttons = document.querySelectorAll("[data-copy]");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].addEventListener("click", function (event) {
        var text = event.currentTarget.getAttribute("data-copy");
        copy(text).then(function () {
          if (my.announce) { my.announce("Copied " + text); }
        }, function () {
          if (my.announce) { my.announce("Could not copy; select the path and copy it by hand."); }
        });
      });
    }
    var form = document.querySelector("[data-register-form]");
    if (form) {
      form.addEventListener("submit", function () {
        form.setAttribute("aria-busy", "true");
        var button = form.querySelector("button[type=submit]");
        if (button) { button.disabled = true; button.textContent = "Registering…"; }
      });
      /* back to this page from the browser's cache: the form is usable again */
      window.addEventListener("pageshow", function () {
        form.removeAttribute("aria-busy");
        var button = form.querySelector("button[type=submit]");
        if (button) { button.disabled = false; button.textContent = "Register as model"; }
      });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
