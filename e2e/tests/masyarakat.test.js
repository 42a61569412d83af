// e-Masyarakat as the "done when" describes it, in a 360 px browser on the demo: a
// citizen reports a dead streetlight with a photo; the verifier sends it to the agency; its
// officer fixes it with an after photo; the citizen confirms.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BASE, VIEWPORTS, launch, shot, register, png, a11yFindings } from './helpers.js';

const phone = VIEWPORTS.find((v) => v.name === 'phone');
let browser;
let photo;
before(async () => {
  browser = await launch();
  photo = join(mkdtempSync(join(tmpdir(), 'bk-')), 'lampu.png');
  writeFileSync(photo, png(64, 48, [200, 120, 30]));
});
after(async () => { await browser?.close(); });

async function login(who) {
  const ctx = await browser.newContext({ ...phone, locale: 'id-ID' });
  const page = await ctx.newPage();
  await page.goto(`${BASE}/masuk`);
  await page.fill('#identifier', who);
  await page.fill('#password', 'binjai-demo-2026');
  await page.click('button[type=submit].primary');
  await page.waitForLoadState();
  return { ctx, page };
}

// The report form asks one question a page: a button press posts it and loads the next.
async function press(page, value = 'lanjut') {
  await Promise.all([page.waitForNavigation(), page.click(`button[value=${value}]`)]);
}

// The first three questions: what, where (a tap on the map), and the story (typed, not sent).
async function whatWhereStory(page, category, at, story) {
  await page.goto(`${BASE}/lapor`);
  await page.check(`#category-${category}`);
  await press(page);
  await page.click('#location .map', { position: at });
  await press(page);
  await page.fill('#description', story);
}

test('phone: a dead streetlight from report to confirmed fix', async () => {
  let { ctx, page } = await login('1275021508900001');
  await page.goto(`${BASE}/`);
  await page.click('text=Lapor masalah');
  // One question a page: what, where, the story, photos, who may see; then a check.
  let main = await page.textContent('main');
  assert.match(main, /Langkah 1 dari 5/);
  await shot(page, 'phone-report-what');
  await page.check('#category-lampu-jalan');
  await press(page);
  // Without a place: the step says what to do, and stays.
  await press(page);
  main = await page.textContent('main');
  assert.match(main, /Langkah 2 dari 5/);
  assert.match(main, /Tandai lokasi di peta, pakai GPS, atau pilih kelurahan\./);
  await shot(page, 'phone-report-refused');
  // A tap on the map places the pin and fills the coordinates (inside the city's box).
  await page.click('#location .map', { position: { x: 160, y: 120 } });
  const lat = Number(await page.inputValue('#lat'));
  const lon = Number(await page.inputValue('#lon'));
  assert.ok(lat > 3.54 && lat < 3.68 && lon > 98.43 && lon < 98.55, `${lat}, ${lon}`);
  await page.fill('#address', 'Jl. Sudirman depan SD Negeri 3');
  await press(page);
  await page.fill('#description', 'Lampu jalan di depan SD Negeri 3 mati sejak seminggu.');
  await press(page);
  // Without a photo: asked for.
  await press(page);
  assert.match(await page.textContent('main'), /Lampirkan minimal satu foto\./);
  await page.setInputFiles('#photo', photo);
  await press(page);
  assert.ok(await page.isChecked('#privacy-public'), 'public unless the reporter says otherwise');
  await press(page);
  main = await page.textContent('main');
  assert.match(main, /Periksa kembali laporan Anda/);
  assert.match(main, /Jl\. Sudirman depan SD Negeri 3/);
  assert.match(main, /Lampu jalan di depan SD Negeri 3 mati sejak seminggu\./);
  await shot(page, 'phone-report-check');
  await press(page, 'kirim');
  await page.waitForURL(/\/pengaduan\/ADU-\d{4}-\d{6}/);
  const code = page.url().match(/ADU-\d{4}-\d{6}/)[0];
  main = await page.textContent('main');
  assert.match(main, /Diterima/);
  // The confirmation: the number, what happens next and by when, where the receipt went.
  assert.match(main, /Laporan Anda terkirim/);
  assert.match(main, /paling lambat (Senin|Selasa|Rabu|Kamis|Jumat), \d+ \w+ \d{4}/);
  assert.match(main, /Tanda terima sudah dikirim lewat: .*Email/);
  await shot(page, 'phone-report-sent');
  await ctx.close();

  ({ ctx, page } = await login('operator'));
  await page.goto(`${BASE}/staf/pengaduan/${code}`);
  // The category's agency is suggested.
  assert.match(await page.textContent('#agency option[selected]'), /Dinas Pekerjaan Umum/);
  await page.click('text=Verifikasi dan teruskan');
  assert.match(await page.textContent('main'), /Diteruskan ke OPD/);
  await ctx.close();

  ({ ctx, page } = await login('petugas.pupr'));
  await page.goto(`${BASE}/staf/pengaduan`);
  assert.match(await page.textContent('main'), new RegExp(code));
  await page.goto(`${BASE}/staf/pengaduan/${code}`);
  await page.click('text=Mulai kerjakan');
  // Only what the chosen closure needs is shown.
  assert.equal(await page.isVisible('#after_photo_file'), false, 'no closure chosen yet');
  await page.check('#closure-fixed_directly');
  assert.ok(await page.isVisible('#after_photo_file'));
  assert.equal(await page.isVisible('#estimate'), false);
  await page.check('#closure-needs_budget');
  assert.ok(await page.isVisible('#estimate') && await page.isVisible('#budget_agency'));
  assert.equal(await page.isVisible('#after_photo_file'), false);
  await page.check('#closure-fixed_directly');
  await page.fill('#close-note', 'Lampu sudah diganti dengan LED baru.');
  // What the reporter will be told follows the chosen closure and the words being typed.
  const told = page.locator('[data-for-closure=fixed_directly] details.told');
  assert.ok(await told.isVisible());
  assert.equal(await page.locator('[data-for-closure=rejected] details.told').isVisible(), false);
  await told.locator('summary').click();
  const message = await told.locator('.told-message').textContent();
  assert.match(message, /Lampu sudah diganti dengan LED baru\./);
  assert.match(message, /Beri tahu kami paling lambat (Senin|Selasa|Rabu|Kamis|Jumat), \d+ \w+ \d{4}/);
  await shot(page, 'phone-staff-close-told');
  // The case page with its closure form and a message preview open, and then refused.
  const a11y = await a11yFindings(page, 'case page, closing');
  await page.click('text=Selesaikan');
  assert.match(await page.textContent('main'), /Lampirkan foto sesudah diperbaiki\./);
  a11y.push(...await a11yFindings(page, 'case page, closing refused'));
  await page.setInputFiles('#after_photo_file', photo);
  await page.fill('#close-note', 'Lampu sudah diganti dengan LED baru.');
  await page.check('#closure-fixed_directly');
  await page.click('text=Selesaikan');
  assert.match(await page.textContent('main'), /Selesai diperbaiki/);
  await ctx.close();

  ({ ctx, page } = await login('1275021508900001'));
  // The receipt and the updates reach the bell within a delivery tick (5 s).
  for (let i = 0; i < 20 && !(await page.isVisible('header .bell .count')); i += 1) {
    await page.waitForTimeout(500);
    await page.reload();
  }
  // With unread notices counted on the bell, the phone's header still keeps to two rows.
  assert.match(await page.textContent('header .bell .count'), /\d+/);
  const header = await page.locator('header.top').boundingBox();
  assert.ok(header.height < 130, `header ${header.height}px tall`);
  await page.goto(`${BASE}/pengaduan/${code}`);
  assert.match(await page.textContent('main'), /Apakah masalahnya sudah beres\?/);
  a11y.push(...await a11yFindings(page, 'tracking page, asked to confirm'));
  assert.deepEqual(a11y, []);
  await page.click('text=Ya, sudah beres');
  main = await page.textContent('main');
  assert.match(main, /Pelapor menyatakan sudah beres/);
  assert.doesNotMatch(main, /Apakah masalahnya sudah beres\?/);
  await shot(page, 'phone-report-confirmed');
  // The public page names nobody.
  const anon = await browser.newContext({ ...phone, locale: 'id-ID' });
  const pub = await anon.newPage();
  await pub.goto(`${BASE}/pengaduan/${code}`);
  assert.doesNotMatch(await pub.textContent('main'), /Budi Santoso/);
  await anon.close();
  await ctx.close();
});

test('phone: the public map and statistics, and a bulk disposition by the verifier', async () => {
  const anon = await browser.newContext({ ...phone, locale: 'id-ID' });
  let page = await anon.newPage();
  await page.goto(`${BASE}/pengaduan/peta`);
  // Leaflet draws one marker per sample report (the demo's eight, at least).
  await page.waitForSelector('.map path.leaflet-interactive');
  assert.ok((await page.locator('.map path.leaflet-interactive').count()) >= 8);
  await page.locator('.map path.leaflet-interactive').first().click({ force: true });
  assert.match(await page.textContent('.leaflet-popup-content'), /Diterima|Diteruskan|Selesai/);
  await shot(page, 'phone-public-map');
  await page.goto(`${BASE}/pengaduan/statistik`);
  const main = await page.textContent('main');
  assert.match(main, /Statistik pengaduan/);
  assert.equal(await page.locator('svg.chart').count(), 3);
  await shot(page, 'phone-statistics');
  await anon.close();

  const { ctx, page: op } = await login('operator');
  await op.goto(`${BASE}/staf/pengaduan?status=diterima`);
  const boxes = op.locator('input[name=code]');
  assert.ok((await boxes.count()) >= 2);
  const first = await boxes.nth(0).getAttribute('value');
  const second = await boxes.nth(1).getAttribute('value');
  await boxes.nth(0).check();
  await boxes.nth(1).check();
  await op.selectOption('#bulk-agency', { label: 'Dinas Lingkungan Hidup' });
  await op.click('text=Disposisikan yang dicentang');
  assert.match(await op.textContent('main'), /2 pengaduan didisposisikan\./);
  await op.goto(`${BASE}/staf/pengaduan/${first}`);
  assert.match(await op.textContent('main'), /Dinas Lingkungan Hidup/);
  await op.goto(`${BASE}/staf/pengaduan?tampil=peta`);
  await op.waitForSelector('.map path.leaflet-interactive');
  await shot(op, 'phone-inbox-map');
  assert.ok(second);
  await ctx.close();
});

test('phone: a large camera photo is shrunk on the phone before it is sent', async () => {
  // A 2600 × 1950 photo of noise, over the server's 10 MB limit as it stands.
  const w = 2600, h = 1950;
  const big = join(mkdtempSync(join(tmpdir(), 'bk-')), 'kamera.png');
  writeFileSync(big, png(w, h, null));
  const original = statSync(big).size;
  assert.ok(original > 10 * 1024 * 1024, `${original}`);
  const { ctx, page } = await login('1275021508900001');
  await whatWhereStory(page, 'sampah', { x: 120, y: 160 }, 'Sampah menumpuk di pinggir jalan sejak tiga hari.');
  await press(page);
  await page.setInputFiles('#photo', big);
  await page.waitForFunction(() => {
    const f = document.querySelector('#photo').files[0];
    return f && f.type === 'image/jpeg';
  });
  const sent = await page.evaluate(async () => {
    const f = document.querySelector('#photo').files[0];
    const b = await createImageBitmap(f);
    return { size: f.size, name: f.name, w: b.width, h: b.height };
  });
  assert.equal(sent.name, 'kamera.jpg');
  assert.deepEqual([sent.w, sent.h], [2048, 1536]);
  assert.ok(sent.size < original && sent.size < 10 * 1024 * 1024, `${sent.size} of ${original}`);
  await press(page);
  // Taken: on to the next question.
  assert.match(await page.textContent('main'), /Langkah 5 dari 5/);
  await ctx.close();
});

test('phone: a report survives a lost signal (offline draft)', async () => {
  const { ctx, page } = await login('1275021508900001');
  await whatWhereStory(page, 'jalan-rusak', { x: 180, y: 140 }, 'Lubang besar di tengah jalan, sudah dua motor jatuh.');
  // The service worker has taken the page over (it registered on the first step).
  await page.evaluate(async () => { await navigator.serviceWorker.ready; });
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null);
  // The signal goes: the next step cannot be reached, and the phone says so.
  await ctx.setOffline(true);
  await press(page);
  assert.match(await page.textContent('main'), /Anda sedang offline/);
  await shot(page, 'phone-offline');
  // Back online, later: the report form offers the draft, and it comes back whole.
  await ctx.setOffline(false);
  await page.goto(`${BASE}/lapor`);
  assert.match(await page.textContent('main'), /Anda punya laporan yang belum terkirim/);
  await shot(page, 'phone-draft');
  await Promise.all([page.waitForNavigation(), page.click('text=Lanjutkan laporan')]);
  assert.match(await page.textContent('main'), /Langkah 3 dari 5/);
  assert.equal(await page.inputValue('#description'), 'Lubang besar di tengah jalan, sudah dua motor jatuh.');
  await press(page);
  await page.setInputFiles('#photo', photo);
  await press(page);
  await press(page);
  await press(page, 'kirim');
  await page.waitForURL(/\/pengaduan\/ADU-\d{4}-\d{6}/);
  assert.match(await page.textContent('main'), /Lubang besar di tengah jalan/);
  // Sent: the draft is gone.
  await page.goto(`${BASE}/lapor`);
  assert.doesNotMatch(await page.textContent('main'), /belum terkirim/);
  await ctx.close();
});

test('phone: signing out forgets the drafts kept on the phone (a shared phone)', async () => {
  const { ctx, page } = await login('1275021508900001');
  await whatWhereStory(page, 'jalan-rusak', { x: 180, y: 140 }, 'Draf yang tidak boleh terlihat orang lain.');
  const drafts = () => page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('balaikota-lapor:')).length);
  assert.equal(await drafts(), 1);
  await page.goto(`${BASE}/akun`);
  await Promise.all([page.waitForNavigation(), page.click('main button:has-text("Keluar")')]);
  assert.equal(await drafts(), 0);
  await ctx.close();
});

test('phone: a neighbour is offered the open report nearby and supports it ("Saya juga")', async () => {
  // A resident reports a blocked drain by tapping the map.
  let { ctx, page } = await login('1275021508900001');
  await page.goto(`${BASE}/pengaduan/saya`);
  const before = await page.locator('ul.deadline-list > li').count();
  await whatWhereStory(page, 'drainase', { x: 250, y: 200 }, 'Parit di ujung gang tersumbat sampah, air meluap ke jalan.');
  await press(page);
  await page.setInputFiles('#photo', photo);
  await press(page);
  await press(page);
  // A double tap on "Kirim laporan" sends it once: the second submission, while the first is
  // on its way, is held back (on a slow network it would file the report twice).
  const held = await page.evaluate(() => {
    const seen = [];
    window.addEventListener('submit', (e) => seen.push(e.defaultPrevented));
    const b = document.querySelector('button[value=kirim]');
    b.form.requestSubmit(b);
    b.form.requestSubmit(b);
    return seen;
  });
  assert.deepEqual(held, [false, true]);
  await page.waitForURL(/\/pengaduan\/ADU-\d{4}-\d{6}/);
  const code = page.url().match(/ADU-\d{4}-\d{6}/)[0];
  await page.goto(`${BASE}/pengaduan/saya`);
  assert.equal(await page.locator('ul.deadline-list > li').count(), before + 1, 'filed once');
  await ctx.close();

  // A neighbour, newly registered, starts a report of the same kind at the same spot.
  ctx = await browser.newContext({ ...phone, locale: 'id-ID' });
  page = await ctx.newPage();
  await page.goto(`${BASE}/daftar`);
  await register(page, 'Rina Tetangga');
  await page.goto(`${BASE}/lapor`);
  await page.check('#category-drainase');
  await press(page);
  await page.click('#location .map', { position: { x: 250, y: 200 } });
  // The open report is offered, with its distance, before anything is typed.
  await page.waitForSelector('#nearby:not([hidden])');
  const offer = await page.textContent('#nearby');
  assert.match(offer, /Sudah ada laporan serupa di dekat sini/);
  assert.match(offer, new RegExp(`\\(\\d+ m, ${code}\\)`));
  await shot(page, 'phone-report-nearby');
  await page.click(`#nearby form[action$="/${code}/dukung"] button`);
  await page.waitForURL(new RegExp(`/pengaduan/${code}`));
  const main = await page.textContent('main');
  assert.match(main, /Anda akan ikut dikabari perkembangannya/);
  assert.match(main, /1 warga ikut melapor/);
  await ctx.close();
});
