/* MLflow's UI addresses pages by the URL's hash, and its client prints such links
   (http://host/#/experiments/2/runs/<id>). The root page loads this script to send them to the
   matching modelyard page before anything is drawn. */
(function () {
  "use strict";
  var hash = window.location.hash;
  if (!hash || hash.length < 3 || hash.charAt(1) !== "/") { return; }
  var path = hash.slice(1).split("?")[0];
  var parts = path.split("/").filter(function (p) { return p.length > 0; });
  var broken = false;
  function seg(i) {
    try { return encodeURIComponent(decodeURIComponent(parts[i])); } catch (e) { broken = true; return ""; }
  }
  var target = null;
  if (parts[0] === "experiments") {
    if (parts.length >= 4 && parts[2] === "runs") { target = "/runs/" + seg(3); }
    else if (parts.length >= 2 && /^[0-9]+$/.test(parts[1])) { target = "/experiments/" + parts[1]; }
    else { target = "/experiments"; }
  } else if (parts[0] === "models") {
    if (parts.length >= 4 && parts[2] === "versions") { target = "/models/" + seg(1) + "/versions/" + seg(3); }
    else if (parts.length >= 2) { target = "/models/" + seg(1); }
    else { target = "/models"; }
  }
  if (target && !broken) { window.location.replace(target); }
}());
