// Accessibility (UX.md: WCAG 2.2 AA): axe-core checks the pages citizens and staff use, as they
// render in the browser (with errors shown, maps drawn, the phone's header), against WCAG 2.0,
// 2.1 and 2.2 A/AA and axe's best practices. Any finding fails the test, naming rule and element.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BASE, VIEWPORTS, launch, a11yFindings as findings, png } from './helpers.js';

let browser;
let photo;
before(async () => {
  browser = await launch();
  photo = join(mkdtempSync(join(tmpdir(), 'bk-a11y-')), 'foto.png');
  writeFileSync(photo, png(8, 8, [230, 120, 20]));
});
after(async () => { await browser?.close(); });

// A page of the given viewport, signed in when `who` is given.
async function open(viewport, who) {
  const ctx = await browser.newContext({ ...viewport, locale: 'id-ID' });
  const page = await ctx.newPage();
  if (who) {
    await page.goto(`${BASE}/masuk`);
    await page.fill('#identifier', who);
    await page.fill('#password', 'binjai-demo-2026');
    await page.click('button[type=submit].primary');
    await page.waitForLoadState();
  }
  return { ctx, page };
}

async function visit(page, path, label = path) {
  await page.goto(`${BASE}${path}`);
  return findings(page, label);
}

async function press(page, value = 'lanjut') {
  await Promise.all([page.waitForNavigation(), page.click(`button[value=${value}]`)]);
}

for (const vp of VIEWPORTS) {
  test(`${vp.name}: public pages, sign-in and registration with their errors`, async () => {
    const { ctx, page } = await open(vp);
    const found = [];
    for (const path of ['/', '/pengaduan/peta', '/pengaduan/statistik', '/pengaduan/ADU-2026-000001', '/halaman-tidak-ada']) {
      found.push(...await visit(page, path, `${vp.name} ${path}`));
    }
    await page.goto(`${BASE}/masuk`);
    await page.click('button[type=submit].primary');
    assert.match(await page.textContent('main'), /Ada yang perlu diperbaiki/);
    found.push(...await findings(page, `${vp.name} /masuk with errors`));
    await page.goto(`${BASE}/daftar`);
    await page.click('button[type=submit]');
    assert.match(await page.textContent('main'), /NIK/);
    found.push(...await findings(page, `${vp.name} /daftar with errors`));
    await ctx.close();
    assert.deepEqual(found, []);
  });

  test(`${vp.name}: every step of a report, each refused once, then sent`, async () => {
    const { ctx, page } = await open(vp, '1275021508900001');
    const found = [];
    const step = async (name) => found.push(...await findings(page, `${vp.name} /lapor ${name}`));
    await page.goto(`${BASE}/lapor`);
    await step('what');
    await press(page);
    await step('what, refused');
    await page.check('#category-lampu-jalan');
    await press(page);
    await step('where');
    await press(page);
    assert.match(await page.textContent('main'), /Tandai lokasi di peta/);
    await step('where, refused');
    await page.click('#location .map');
    await press(page);
    await step('story');
    await press(page);
    await step('story, refused');
    await page.fill('#description', 'Lampu jalan di depan pasar mati sejak kemarin.');
    await press(page);
    await step('photos');
    await press(page);
    await step('photos, refused');
    await page.setInputFiles('#photo', photo);
    await press(page);
    await step('who may see');
    await press(page);
    assert.match(await page.textContent('main'), /Periksa kembali/);
    await step('check');
    await press(page, 'kirim');
    await page.waitForURL(/\/pengaduan\/ADU-\d{4}-\d{6}/);
    await step('sent');
    for (const path of ['/pengaduan/saya', '/akun', '/notifikasi']) {
      found.push(...await visit(page, path, `${vp.name} ${path}`));
    }
    await ctx.close();
    assert.deepEqual(found, []);
  });
}

test('desktop and phone: the staff workspace, inbox, a case, the evaluation and the admin pages', async () => {
  const found = [];
  for (const vp of VIEWPORTS) {
    const { ctx, page } = await open(vp, 'admin');
    const paths = vp.name === 'desktop'
      ? ['/staf', '/staf/pengaduan', '/staf/pengaduan?urut=tenggat', '/staf/pengaduan/ADU-2026-000001', '/evaluasi',
        '/tenggat', '/audit', '/admin/pengaduan', '/admin/opd', '/admin/pengguna', '/admin/kotak-keluar',
        '/admin/open311', '/admin/notifikasi', '/admin/kalender']
      : ['/staf', '/staf/pengaduan', '/staf/pengaduan/ADU-2026-000001', '/evaluasi'];
    for (const path of paths) found.push(...await visit(page, path, `${vp.name} ${path}`));
    await ctx.close();
  }
  const { ctx, page } = await open(VIEWPORTS[0], 'petugas.pupr');
  for (const path of ['/staf', '/staf/pengaduan']) found.push(...await visit(page, path, `officer ${path}`));
  await ctx.close();
  assert.deepEqual(found, []);
});

test('phone: a staff header keeps to two rows; its links scroll sideways and each can be reached', async () => {
  const phone = VIEWPORTS.find((v) => v.name === 'phone');
  const { ctx, page } = await open(phone, 'admin');
  await page.goto(`${BASE}/staf`);
  const header = await page.locator('header.top').boundingBox();
  assert.ok(header.height < 130, `header ${header.height}px tall`);
  // The workspace, the bell and the account come first, within the screen.
  const first = await page.locator('nav.main li:visible').evaluateAll((lis) =>
    lis.map((li) => ({ text: li.textContent.trim(), order: getComputedStyle(li).order, right: li.getBoundingClientRect().right }))
      .sort((a, b) => a.order - b.order || 0));
  assert.equal(first[0].text, 'Meja kerja');
  assert.ok(first.slice(0, 3).every((x) => x.right <= 360), JSON.stringify(first.slice(0, 3)));
  // The last link starts off the screen; given focus, it is scrolled into view.
  const audit = page.locator('nav.main a[href$="/audit"]');
  assert.ok((await audit.boundingBox()).x > 360, 'the audit log starts off the screen');
  await audit.focus();
  const box = await audit.boundingBox();
  assert.ok(box.x >= 0 && box.x + box.width <= 360, `focused: ${JSON.stringify(box)}`);
  await Promise.all([page.waitForURL(/\/audit$/), audit.click()]);
  assert.deepEqual(await findings(page, 'phone /audit'), []);
  // The inbox puts its list first on a phone: the filters are one tap away.
  await page.goto(`${BASE}/staf/pengaduan`);
  assert.equal(await page.isVisible('#status'), false);
  await page.click('details.filters-box summary');
  assert.equal(await page.isVisible('#status'), true);
  await ctx.close();
  // On a desk's screen they stand open.
  const desk = await open(VIEWPORTS.find((v) => v.name === 'desktop'), 'admin');
  await desk.page.goto(`${BASE}/staf/pengaduan`);
  assert.equal(await desk.page.isVisible('#status'), true);
  await desk.ctx.close();
});
