// Bastion web view: starts asciinema-player on a session's page. A file of its own because
// the pages' content security policy allows no inline script. Reads the #player element's
// data attributes (cast URL, markers as [[seconds, label], ...], poster) and makes the
// marker links seek the player.
// On a live session's page (#live), it follows the session's stream instead: the player's
// eventsource driver, read-only, drawn as soon as output arrives (no buffering delay).
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (live && window.AsciinemaPlayer) {
    window.AsciinemaPlayer.create({ driver: "eventsource", url: live.dataset.stream, bufferTime: 0 }, live, {
      autoPlay: true,
      fit: "width"
    });
    return;
  }
  var element = document.getElementById("player");
  if (!element || !window.AsciinemaPlayer) { return; }
  var markers = [];
  try { markers = JSON.parse(element.dataset.markers || "[]"); } catch (e) { markers = []; }
  var player = window.AsciinemaPlayer.create(element.dataset.cast, element, {
    markers: markers,
    poster: element.dataset.poster || "npt:0:00",
    fit: "width",
    idleTimeLimit: 2,
    preload: true
  });
  var links = document.querySelectorAll("a[data-seek]");
  Array.prototype.forEach.call(links, function (link) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      var seconds = parseFloat(link.dataset.seek);
      Promise.resolve(player.seek(seconds)).then(function () { return player.play(); });
      element.scrollIntoView({ block: "nearest" });
    });
  });
  // A #t=SECONDS fragment (a marker link opened in a new tab) seeks once the player is ready.
  var match = /^#t=([0-9.]+)$/.exec(window.location.hash);
  if (match) { Promise.resolve(player.seek(parseFloat(match[1]))); }
})();
