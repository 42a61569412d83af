// Deadlines and notifications as staff use them on a 360 px phone: the operator sees the overdue
// sample permit, the officer's bell counts its reminders, and the admin sees the outbox and is
// told line by line what is wrong with a holiday CSV.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, VIEWPORTS, launch, shot } from './helpers.js';

const phone = VIEWPORTS.find((v) => v.name === 'phone');
let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

async function login(who) {
  const ctx = await browser.newContext({ ...phone, locale: 'id-ID' });
  const page = await ctx.newPage();
  await page.goto(`${BASE}/masuk`);
  await page.fill('#identifier', who);
  await page.fill('#password', 'binjai-demo-2026');
  await page.click('button[type=submit].primary');
  await page.waitForURL(/\/staf$/);
  return { ctx, page };
}

// The worker fires the demo's ladders within seconds of start; wait for it rather than sleep.
async function until(page, url, re) {
  for (let i = 0; i < 30; i += 1) {
    await page.goto(url);
    if (re.test(await page.textContent('main'))) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.fail(`${url} never showed ${re}`);
}

test('phone: the operator sees the overdue permit first', async () => {
  const { ctx, page } = await login('operator');
  await page.goto(`${BASE}/tenggat`);
  const main = await page.textContent('main');
  assert.match(main, /SIUP CV Maju Bersama \(contoh\)/);
  assert.match(main, /Lewat tenggat/);
  const json = await (await ctx.request.get(`${BASE}/api/v1/deadlines?status=at_risk`)).json();
  assert.equal(json.counts.breached, 1);
  assert.equal(json.items[0].title, 'SIUP Toko Sinar Jaya (contoh)');
  await shot(page, 'phone-deadlines');
  await ctx.close();
});

test('phone: the officer’s bell counts the reminders', async () => {
  const { ctx, page } = await login('petugas.pupr');
  await until(page, `${BASE}/notifikasi`, /Pengingat tenggat: SIUP Toko Sinar Jaya/);
  assert.match(await page.textContent('header'), /2/);
  await shot(page, 'phone-bell');
  await page.click('text=Tandai semua sudah dibaca');
  assert.doesNotMatch(await page.textContent('header .bell'), /\d/);
  await ctx.close();
});

test('phone: the admin sees the outbox and a refused holiday CSV', async () => {
  const { ctx, page } = await login('admin');
  await until(page, `${BASE}/admin/kotak-keluar`, /Terkirim/);
  const main = await page.textContent('main');
  assert.match(main, /Lewat tenggat: SIUP CV Maju Bersama/);
  assert.match(main, /Gateway SMS belum diatur di server\./);
  await shot(page, 'phone-outbox');
  await page.goto(`${BASE}/admin/kalender`);
  assert.match(await page.textContent('main'), /Proklamasi Kemerdekaan/);
  await page.fill('#csv', 'date,kind,name\n2027-02-30,libur_nasional,Salah\n');
  await page.click('form[action$="/admin/kalender/impor"] button[type=submit]');
  const refused = await page.textContent('main');
  assert.match(refused, /Tidak ada yang disimpan/);
  assert.match(refused, /Baris 2: Tanggal harus seperti 2026-08-17\./);
  await shot(page, 'phone-calendar-refused');
  await ctx.close();
});
