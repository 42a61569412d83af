// Launches Debian's chromium through playwright-core (no browser download) and gives pages of
// a desktop and of a cheap phone (360×740).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { deflateSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
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

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'];

/**
 * What axe-core finds on the page as it is now, against WCAG 2.0–2.2 A/AA and axe's best
 * practices (UX.md: WCAG 2.2 AA): one line per rule broken, naming up to three elements. axe is
 * evaluated through the DevTools protocol, which the page's Content-Security-Policy does not stop.
 */
export async function a11yFindings(page, label) {
  await page.waitForLoadState('networkidle').catch(() => {});
  await page.evaluate(`${AXE}\n;0`);
  const lines = await page.evaluate(async (tags) => {
    // eslint-disable-next-line no-undef
    const out = await axe.run(document, { runOnly: { type: 'tag', values: tags } });
    return out.violations.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
  }, AXE_TAGS);
  return lines.map((line) => `${label}: ${line}`);
}

// A small valid PNG, so no binary file is committed.
export function png(w, h, rgb) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const c = Buffer.alloc(4); c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4); ihdr[8] = 8; ihdr[9] = 2;
  // rgb null: noise, which does not compress (a stand-in for a large camera photo).
  const rowOf = () => Buffer.concat([Buffer.from([0]),
    rgb ? Buffer.from(Array(w).fill(rgb).flat()) : randomBytes(w * 3)]);
  const raw = rgb ? Buffer.concat(Array(h).fill(rowOf())) : Buffer.concat(Array.from({ length: h }, rowOf));
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}
