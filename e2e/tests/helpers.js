// Launches Debian's chromium through playwright-core (no browser download) and gives pages of
// a desktop and of a cheap phone (360×740).
import { chromium } from 'playwright-core';

export const BASE = process.env.BALAIKOTA_E2E_URL || 'http://127.0.0.1:18080';
export const SHOTS = process.env.BALAIKOTA_E2E_SHOTS || '';

export const VIEWPORTS = [
  { name: 'desktop', viewport: { width: 1280, height: 900 } },
  { name: 'phone', viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 },
];

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}

export async function shot(page, name) {
  if (SHOTS) await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
}

let counter = 0;
/** A fresh valid Binjai NIK (female birth day + 40 varies the serial). */
function freshNik() {
  counter += 1;
  const serial = String((Date.now() % 9000) + counter).padStart(4, '0').slice(-4);
  return `12750255089${Math.floor(Math.random() * 10)}${serial === '0000' ? '0001' : serial}`;
}

/** Registers a fresh resident on the registration form the page shows; returns the NIK. */
export async function register(page, fullName) {
  const nik = freshNik();
  await page.fill('#nik', nik);
  await page.fill('#full_name', fullName);
  await page.fill('#email', `${fullName.split(' ')[0].toLowerCase()}.${nik}@contoh.id`);
  await page.fill('#password', 'rahasia-123');
  await page.fill('#password_confirm', 'rahasia-123');
  await page.click('button[type=submit]');
  await page.waitForURL(/\/\?pesan=/);
  return nik;
}
