// Balaikota service worker: keeps the app shell (CSS, JS, icon) for offline starts, and answers
// a page that cannot be reached offline with a page saying so (the report form keeps its
// answers on the phone meanwhile: see app.js).
const SHELL = 'balaikota-shell-v2';
const OFFLINE = '<!doctype html><html lang="id"><head><meta charset="utf-8">' +
  '<meta name="viewport" content="width=device-width, initial-scale=1">' +
  '<title>Sedang offline</title><link rel="stylesheet" href="/assets/app.css"></head>' +
  '<body><main id="isi"><h1>Anda sedang offline</h1>' +
  '<p>Ponsel Anda tidak tersambung ke internet, jadi halaman ini belum bisa dibuka atau dikirim.</p>' +
  '<p>Isian laporan Anda tersimpan di ponsel ini. Saat sinyal kembali, buka lagi ' +
  '<strong>Lapor masalah</strong> lalu pilih <strong>Lanjutkan laporan</strong>.</p>' +
  '<p lang="en">You are offline. What you entered is kept on this phone: open ' +
  '"Lapor masalah" again when you are back online and choose "Lanjutkan laporan".</p>' +
  '<p><a href="javascript:history.back()">‹ Kembali</a></p></main></body></html>';
self.addEventListener('install', (e) => {
  e.waitUntil(caches.open(SHELL).then((c) => c.addAll(['/assets/app.css', '/assets/app.js', '/assets/icon.svg'])));
  self.skipWaiting();
});
self.addEventListener('activate', (e) => {
  e.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k !== SHELL).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});
self.addEventListener('fetch', (e) => {
  const url = new URL(e.request.url);
  if (e.request.mode === 'navigate') {
    e.respondWith(fetch(e.request).catch(() => new Response(OFFLINE, {
      status: 503,
      headers: { 'Content-Type': 'text/html; charset=utf-8' },
    })));
    return;
  }
  if (e.request.method !== 'GET' || !url.pathname.startsWith('/assets/')) return;
  e.respondWith(caches.match(e.request, { ignoreSearch: true }).then((hit) => hit || fetch(e.request)));
});
