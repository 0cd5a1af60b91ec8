/* The models list: a refused filter (400) comes back as the results block with the message, which
   htmx swaps in like any answer (by default it would leave the old results and say nothing). */
(function () {
  "use strict";
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (event.detail.xhr.status === 400 && target && target.id === "models-results") {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
}());
