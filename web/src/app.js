// Balaikota: small enhancements only; every page works without this script.
(function () {
  // Registers the service worker (offline shell).
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('/sw.js').catch(function () {});
  }
  // Live audit log: prepend new entries sent by the server.
  var live = document.querySelector('[data-live-audit]');
  if (live && 'EventSource' in window) {
    var es = new EventSource(live.getAttribute('data-live-audit'));
    es.onmessage = function (msg) {
      try {
        var e = JSON.parse(msg.data);
        var tr = document.createElement('tr');
        [e.time, e.actor, e.action, e.subject].forEach(function (v) {
          var td = document.createElement('td'); td.textContent = v; tr.appendChild(td);
        });
        live.insertBefore(tr, live.firstChild);
      } catch (err) {}
    };
  }
  // "Use my location": fills the latitude and longitude fields from the phone's GPS.
  document.querySelectorAll('[data-gps]').forEach(function (btn) {
    var ids = btn.getAttribute('data-gps').split(',');
    var lat = document.getElementById(ids[0]), lon = document.getElementById(ids[1]);
    var status = document.getElementById(ids[2]);
    if (!('geolocation' in navigator)) { btn.hidden = true; return; }
    btn.addEventListener('click', function () {
      if (status) status.textContent = '…';
      navigator.geolocation.getCurrentPosition(function (p) {
        lat.value = p.coords.latitude.toFixed(6);
        lon.value = p.coords.longitude.toFixed(6);
        if (status) status.textContent = lat.value + ', ' + lon.value + ' (±' + Math.round(p.coords.accuracy) + ' m)';
        document.dispatchEvent(new Event('gps-filled'));
      }, function (e) {
        if (status) status.textContent = e.message;
      }, { enableHighAccuracy: true, timeout: 15000 });
    });
  });
  // While reporting: open reports of the same category nearby, to support instead ("Saya juga").
  var near = document.getElementById('nearby');
  if (near && window.fetch) {
    var cat = document.getElementById('category');
    var la = document.getElementById('lat'), lo = document.getElementById('lon');
    var look = function () {
      if (!cat.value || !la.value || !lo.value) { near.hidden = true; return; }
      var u = near.getAttribute('data-url') + '?kategori=' + encodeURIComponent(cat.value) +
        '&lat=' + encodeURIComponent(la.value) + '&lon=' + encodeURIComponent(lo.value);
      fetch(u, { headers: { Accept: 'application/json' } }).then(function (r) { return r.ok ? r.json() : []; })
        .then(function (list) {
          near.textContent = '';
          if (!list.length) { near.hidden = true; return; }
          var h = document.createElement('h2'); h.textContent = near.getAttribute('data-title'); near.appendChild(h);
          var p = document.createElement('p'); p.textContent = near.getAttribute('data-lead'); near.appendChild(p);
          list.forEach(function (n) {
            var f = document.createElement('form');
            f.method = 'post'; f.action = near.getAttribute('data-base') + n.code + '/dukung';
            var c = document.createElement('input'); c.type = 'hidden'; c.name = '_csrf'; c.value = near.getAttribute('data-csrf'); f.appendChild(c);
            var t = document.createElement('p'); t.textContent = n.description + ' (' + n.distance_m + ' m, ' + n.code + ')'; f.appendChild(t);
            var b = document.createElement('button'); b.type = 'submit'; b.className = 'secondary'; b.textContent = near.getAttribute('data-me-too'); f.appendChild(b);
            near.appendChild(f);
          });
          near.hidden = false;
        }).catch(function () {});
    };
    [cat, la, lo].forEach(function (el) { el && el.addEventListener('change', look); });
    document.addEventListener('gps-filled', look);
  }
  document.querySelectorAll('[data-print]').forEach(function (b) {
    b.addEventListener('click', function () { window.print(); });
  });
  // A chosen file fills a text box (CSV imports post text, so they work without this too).
  document.querySelectorAll('input[type=file][data-fill]').forEach(function (input) {
    input.addEventListener('change', function () {
      var f = input.files && input.files[0];
      var box = document.getElementById(input.getAttribute('data-fill'));
      if (!f || !box || !f.text) return;
      f.text().then(function (t) { box.value = t; });
    });
  });
})();
