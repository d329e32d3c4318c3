// The bell's unread count, kept live by server-sent events from /notifications/stream.
// EventSource reconnects by itself after a network error or a server restart. A hidden tab
// closes its stream (browsers allow only a few connections per host over HTTP/1.1, and a
// stream per background tab would use them up) and opens it again when shown; the first
// event of a new stream is the current count.
(function () {
  "use strict";
  var badges = document.querySelectorAll("[data-bell-count]");
  if (!badges.length || !window.EventSource) return;
  var source = null;

  function show(count) {
    badges.forEach(function (badge) {
      badge.textContent = String(count);
      badge.hidden = count === 0;
      var bell = badge.closest(".bell");
      if (bell) bell.setAttribute("aria-label", "Notifications: " + count + " unread");
    });
  }

  function open() {
    if (source) return;
    source = new EventSource("/notifications/stream");
    source.addEventListener("count", function (event) {
      show(parseInt(event.data, 10) || 0);
    });
  }

  function close() {
    if (source) {
      source.close();
      source = null;
    }
  }

  document.addEventListener("visibilitychange", function () {
    if (document.hidden) close();
    else open();
  });
  window.addEventListener("pagehide", close);
  window.addEventListener("pageshow", function () {
    if (!document.hidden) open();
  });
  if (!document.hidden) open();
})();
