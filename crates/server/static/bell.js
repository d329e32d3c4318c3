// The bell's unread count, kept live by server-sent events from /notifications/stream.
// EventSource reconnects by itself after a network error or a server restart.
(function () {
  "use strict";
  var badges = document.querySelectorAll("[data-bell-count]");
  if (!badges.length || !window.EventSource) return;
  var source = new EventSource("/notifications/stream");
  source.addEventListener("count", function (event) {
    var count = parseInt(event.data, 10) || 0;
    badges.forEach(function (badge) {
      badge.textContent = String(count);
      badge.hidden = count === 0;
      var bell = badge.closest(".bell");
      if (bell) bell.setAttribute("aria-label", "Notifications: " + count + " unread");
    });
  });
})();
