// A resident on a desktop and on a 360 px phone: register, log in, switch language, and be
// refused a staff page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, VIEWPORTS, launch, shot, register } from './helpers.js';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

for (const vp of VIEWPORTS) {
  test(`${vp.name}: a malformed NIK is refused with a clear message`, async () => {
    const ctx = await browser.newContext({ ...vp, locale: 'id-ID' });
    const page = await ctx.newPage();
    await page.goto(`${BASE}/daftar`);
    await page.fill('#nik', '12345');
    await page.fill('#full_name', 'Siti Aminah');
    await page.fill('#phone', '0812-9876-5432');
    await page.fill('#password', 'rahasia-123');
    await page.fill('#password_confirm', 'rahasia-123');
    await page.click('button[type=submit]');
    await page.waitForSelector('.error-summary');
    assert.match(await page.textContent('.error-summary'), /NIK harus 16 angka/);
    assert.equal(await page.inputValue('#full_name'), 'Siti Aminah');
    await page.click('.error-summary a[href="#nik"]');
    await shot(page, `${vp.name}-register-error`);
    // no horizontal scrolling on a phone
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
    assert.equal(overflow, false, 'page wider than the screen');
    await ctx.close();
  });

  test(`${vp.name}: register, log out, log in, switch language, refused a staff page`, async () => {
    const ctx = await browser.newContext({ ...vp, locale: 'id-ID' });
    const page = await ctx.newPage();
    await page.goto(`${BASE}/`);
    await shot(page, `${vp.name}-home`);
    await page.click('text=Daftar dengan NIK');
    const nik = await register(page, 'Siti Aminah');
    assert.match(await page.textContent('main'), /Selamat datang, Siti Aminah/);
    await shot(page, `${vp.name}-registered`);

    if (vp.name === 'phone') {
      // A phone's header keeps to the brand row and one row of links; signing out is on
      // the account page.
      const header = await page.locator('header.top').boundingBox();
      assert.ok(header.height < 130, `header ${header.height}px tall`);
      assert.equal(await page.isVisible('nav.main button:has-text("Keluar")'), false);
      await page.click('nav.main a:has-text("Akun saya")');
      await page.click('main button:has-text("Keluar")');
    } else {
      await page.click('nav.main button:has-text("Keluar")');
    }
    await page.waitForURL(/\/\?pesan=/);
    await page.goto(`${BASE}/masuk`);
    await page.fill('#identifier', nik);
    await page.fill('#password', 'rahasia-123');
    await page.click('button[type=submit]');
    await page.waitForURL(`${BASE}/`);
    assert.match(await page.textContent('main'), /Selamat datang/);

    await page.click('header.top a[hreflang=en]');
    await page.waitForLoadState();
    assert.equal(await page.getAttribute('html', 'lang'), 'en');
    assert.match(await page.textContent('main'), /Welcome, Siti Aminah/);
    await shot(page, `${vp.name}-english`);

    const resp = await page.goto(`${BASE}/admin/opd`);
    assert.equal(resp.status(), 403);
    assert.match(await page.textContent('h1'), /You do not have access/);
    await shot(page, `${vp.name}-forbidden`);
    await ctx.close();
  });
}

test('staff: the admin sees the agencies of Binjai and the audit log', async () => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'id-ID' });
  const page = await ctx.newPage();
  await page.goto(`${BASE}/masuk`);
  await page.fill('#identifier', 'admin');
  await page.fill('#password', 'binjai-demo-2026');
  await page.click('button[type=submit]');
  await page.waitForURL(`${BASE}/staf`);
  await page.goto(`${BASE}/admin/opd?q=pupr`);
  assert.match(await page.textContent('table'), /Dinas Pekerjaan Umum dan Penataan Ruang/);
  await page.goto(`${BASE}/admin/opd`);
  await shot(page, 'desktop-agencies');
  await page.goto(`${BASE}/audit`);
  assert.match(await page.textContent('table'), /agency\.create/);
  await shot(page, 'desktop-audit');
  await ctx.close();
});
