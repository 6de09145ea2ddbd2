// Calls every method of @vonage/meetings@1.12.1 against a meetkit server and checks the results.
//
//   MEETKIT_URL=http://127.0.0.1:8080 MEETKIT_APP_ID=... MEETKIT_PRIVATE_KEY_PATH=... node all_calls.mjs
//
// Optional: MEETKIT_LOGO_PNG (transparent background, <= 300 px), MEETKIT_FAVICON_PNG (square, 16-32 px);
// both are generated when absent. MEETKIT_RECORDING_ID / MEETKIT_SESSION_ID: a recording in status
// "uploaded" and its session; it is DELETED by this script. Without them the 404 paths are checked.
// MEETKIT_ALLOW_EXTERNAL_UPLOAD=1 lets the logo upload go to a host other than MEETKIT_URL's.
// For https with a self-signed certificate set NODE_EXTRA_CA_CERTS.
//
// Prints `ok <name>` or `not ok <name>` (+ `#` detail lines) per call and ends with `N passed, M failed`;
// exits 1 on any failure.

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { deflateSync } from 'node:zlib';

const require = createRequire(import.meta.url);
const { Meetings, LogoType } = require('@vonage/meetings');
const { Auth } = require('@vonage/auth');

const env = process.env;
for (const name of ['MEETKIT_URL', 'MEETKIT_APP_ID', 'MEETKIT_PRIVATE_KEY_PATH']) {
  if (!env[name]) {
    console.error(`missing env ${name}`);
    process.exit(2);
  }
}
const HOST = env.MEETKIT_URL.replace(/\/+$/, '');
const APP_ID = env.MEETKIT_APP_ID;
const RUN = Date.now().toString(36);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ISO_MS_Z = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

// ---------------------------------------------------------------- tracing and reporting

const exchanges = [];

/** Records every request the SDK client sends, so a failing step can show its HTTP exchange. */
function traced(client) {
  const send = client.sendRequest.bind(client);
  client.sendRequest = async (request) => {
    const entry = { method: request.method, request };
    exchanges.push(entry);
    try {
      const response = await send(request);
      entry.status = response.status;
      entry.data = response.data;
      return response;
    } catch (error) {
      entry.status = error?.response?.status;
      entry.error = error;
      throw error;
    }
  };
  return client;
}

const auth = new Auth({ applicationId: APP_ID, privateKey: env.MEETKIT_PRIVATE_KEY_PATH });
const meetings = traced(new Meetings(auth, { meetingsHost: HOST }));

/** The body of a failed response, read once and kept (a Response body can only be read once). */
async function errorBody(error) {
  if (error.bodyText === undefined) {
    try {
      error.bodyText = await error.response.text();
    } catch (e) {
      error.bodyText = `<unreadable: ${e.message}>`;
    }
  }
  return error.bodyText;
}

const clip = (value, n = 600) => {
  const s = typeof value === 'string' ? value : JSON.stringify(value);
  return s === undefined ? '' : s.length > n ? `${s.slice(0, n)}…` : s;
};

async function describeExchange(x) {
  const lines = [`#   > ${x.method} ${x.request.url}`];
  if (x.request.data !== undefined) lines.push(`#   > ${clip(x.request.data)}`);
  if (x.error?.response) {
    lines.push(`#   < ${x.status} ${x.error.response.headers.get('content-type') || ''} ${clip(await errorBody(x.error))}`);
  } else if (x.error) {
    lines.push(`#   < (no response) ${x.error.message}`);
  } else {
    lines.push(`#   < ${x.status} ${clip(x.data)}`);
  }
  return lines.join('\n');
}

let passed = 0;
let failed = 0;

async function step(name, fn) {
  const first = exchanges.length;
  try {
    await fn();
    passed += 1;
    console.log(`ok ${name}`);
  } catch (error) {
    failed += 1;
    console.log(`not ok ${name}`);
    console.log(String(error?.stack || error).split('\n').slice(0, 6).map((l) => `#   ${l}`).join('\n'));
    for (const x of exchanges.slice(first).slice(-3)) console.log(await describeExchange(x));
  }
}

const note = (text) => console.log(`# ${text}`);

/** Collects an async generator; a pager that never stops fails instead of hanging. */
async function all(generator, limit = 5000) {
  const out = [];
  for await (const item of generator) {
    out.push(item);
    if (out.length > limit) throw new Error(`generator yielded more than ${limit} items`);
  }
  return out;
}

/** Runs fn, expects the SDK to throw for an HTTP `status` (a number or a list) with the contract's error body. */
async function expectApiError(fn, status, { name, message } = {}) {
  let error = null;
  try {
    await fn();
  } catch (e) {
    error = e;
  }
  const wanted = [status].flat();
  assert.ok(error, `expected HTTP ${wanted.join('/')}, but the call succeeded`);
  assert.ok(error.response, `expected an HTTP error, got: ${error.stack}`);
  const text = await errorBody(error);
  assert.ok(wanted.includes(error.response.status), `expected HTTP ${wanted.join('/')}, got ${error.response.status}: ${clip(text)}`);
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    assert.fail(`error body is not JSON: ${clip(text)}`);
  }
  assert.equal(body.status, error.response.status, `body.status in ${clip(text)}`);
  assert.equal(typeof body.name, 'string', `body.name in ${clip(text)}`);
  assert.equal(typeof body.message, 'string', `body.message in ${clip(text)}`);
  if (name) assert.ok([name].flat().includes(body.name), `name ${body.name}, wanted ${name}`);
  if (message) assert.match(body.message, message);
  return body;
}

/** Runs fn and returns the Error it throws (a failed assertion when it does not throw). */
async function rejection(fn) {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  assert.fail('expected the call to throw, but it succeeded');
}

const absoluteUrl = (href, what) => {
  assert.equal(typeof href, 'string', `${what} is not a string`);
  let url;
  assert.doesNotThrow(() => { url = new URL(href); }, `${what} is not an absolute URL: ${href}`);
  return url;
};

const sameHost = (href) => new URL(href).host === new URL(HOST).host;

// ---------------------------------------------------------------- shapes

function assertRoom(room, { type, theme = null } = {}) {
  assert.match(room.id, UUID, 'room.id');
  assert.equal(typeof room.displayName, 'string');
  if (type) assert.equal(room.type, type);
  assert.ok(['instant', 'long_term'].includes(room.type), `type ${room.type}`);
  assert.equal(typeof room.meetingCode, 'string', 'meetingCode is a string');
  assert.match(room.meetingCode, /^\d{9}$/, 'meetingCode');
  assert.equal(room.isAvailable, true, 'isAvailable');
  assert.match(room.createdAt, ISO_MS_Z, 'createdAt');
  assert.match(room.expiresAt, ISO_MS_Z, 'expiresAt');
  assert.equal(typeof room.expireAfterUse, 'boolean', 'expireAfterUse');
  assert.ok(['none', 'after_owner_only', 'explicit_approval'].includes(room.joinApprovalLevel), `joinApprovalLevel ${room.joinApprovalLevel}`);
  assert.equal(room.themeId, theme, 'themeId');
  // @vonage/meetings 1.12.1 never sends nested options (see the notes), so these are always the defaults.
  assert.deepEqual(room.recordingOptions, { autoRecord: false, recordOnlyOwner: false }, 'recordingOptions');
  assert.deepEqual(room.initialJoinOptions, { microphoneState: 'default' }, 'initialJoinOptions');
  assert.deepEqual(room.availableFeatures, {
    isRecordingAvailable: true,
    isChatAvailable: true,
    isWhiteboardAvailable: true,
    isLocaleSwitcherAvailable: true,
    isCaptionsAvailable: false,
  }, 'availableFeatures');
  assert.equal(room.uiSettings?.language, 'en', 'uiSettings.language');
  const guest = absoluteUrl(room.guestUrl, 'guestUrl');
  absoluteUrl(room.hostUrl, 'hostUrl');
  assert.notEqual(room.hostUrl, room.guestUrl, 'host and guest URLs differ');
  assert.ok(guest.pathname.endsWith(`/${room.meetingCode}`), `guestUrl ${room.guestUrl} ends with the meeting code`);
}

const THEME_KEYS = [
  'themeId', 'themeName', 'domain', 'accountId', 'applicationId', 'mainColor', 'shortCompanyUrl', 'brandText',
  'brandImageColored', 'brandImageWhite', 'brandedFavicon', 'brandImageColoredUrl', 'brandImageWhiteUrl', 'brandedFaviconUrl',
];

function assertTheme(theme, expected = {}) {
  for (const key of THEME_KEYS) assert.ok(key in theme, `theme has ${key}`);
  assert.match(theme.themeId, UUID, 'themeId');
  assert.equal(theme.domain, 'VCP');
  assert.equal(theme.applicationId, APP_ID);
  assert.equal(typeof theme.themeName, 'string');
  assert.ok(theme.themeName.length > 0, 'themeName is set');
  for (const [key, value] of Object.entries(expected)) assert.deepEqual(theme[key], value, key);
}

function assertRecording(rec, { id, sessionId }) {
  assert.equal(rec.id, id);
  assert.equal(rec.sessionId, sessionId);
  assert.equal(rec.status, 'uploaded');
  assert.match(rec.startedAt, ISO_MS_Z, 'startedAt');
  assert.match(rec.endedAt, ISO_MS_Z, 'endedAt');
  assert.ok(Date.parse(rec.endedAt) >= Date.parse(rec.startedAt), 'endedAt >= startedAt');
  absoluteUrl(rec.url, 'recording url');
}

function assertPage(page, what) {
  assert.equal(typeof page.page_size, 'number', `${what}.page_size`);
  assert.equal(typeof page.total_items, 'number', `${what}.total_items`);
  assert.ok(Array.isArray(page._embedded), `${what}._embedded is an array`);
  assert.equal(page.page_size, page._embedded.length, `${what}.page_size equals the number of items`);
  for (const key of ['first', 'self']) absoluteUrl(page._links?.[key]?.href, `${what}._links.${key}.href`);
}

const nextStartId = (page) => {
  const href = page._links?.next?.href;
  if (!href) return null;
  const id = absoluteUrl(href, '_links.next.href').searchParams.get('start_id');
  assert.match(id ?? '', /^\d+$/, `next start_id is an integer serial: ${href}`);
  return id;
};

const ids = (rooms) => rooms.map((r) => r.id);

// ---------------------------------------------------------------- PNG files

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
const crc32 = (buf) => {
  let c = 0xffffffff;
  for (const byte of buf) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
};

/** An RGBA PNG; pixel(x, y) returns [r, g, b, a]. */
function png(width, height, pixel) {
  const raw = Buffer.alloc((width * 4 + 1) * height);
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) raw.set(pixel(x, y), y * (width * 4 + 1) + 1 + x * 4);
  }
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 6, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const pngDir = mkdtempSync(join(tmpdir(), 'meetkit-node-'));
const writePng = (name, w, h, pixel) => {
  const path = join(pngDir, name);
  writeFileSync(path, png(w, h, pixel));
  return path;
};
// Transparent background with an opaque block in the middle.
const badge = (w, h) => (x, y) => (x > w / 4 && x < (3 * w) / 4 && y > h / 4 && y < (3 * h) / 4 ? [0x12, 0xab, 0x34, 255] : [0, 0, 0, 0]);
const LOGO = env.MEETKIT_LOGO_PNG || writePng('logo.png', 200, 80, badge(200, 80));
const FAVICON = env.MEETKIT_FAVICON_PNG || writePng('favicon.png', 32, 32, badge(32, 32));
const OPAQUE = writePng('opaque.png', 64, 64, () => [200, 30, 30, 255]);
const WIDE_FAVICON = writePng('wide-favicon.png', 200, 80, badge(200, 80));

/** A client whose S3 step is replaced: 1.12.1's own _uploadToAws posts an empty body (see the notes). */
function clientWithUploader(upload) {
  const client = traced(new Meetings(auth, { meetingsHost: HOST }));
  client._uploadToAws = upload;
  return client;
}

function assertUploadTarget(url) {
  absoluteUrl(url, 'upload url');
  if (!sameHost(url) && env.MEETKIT_ALLOW_EXTERNAL_UPLOAD !== '1') {
    assert.fail(`upload url ${url} is not on ${HOST}; set MEETKIT_ALLOW_EXTERNAL_UPLOAD=1 to allow`);
  }
}

/** What _uploadToAws should have done: a multipart POST of the policy fields in order, then the file. */
async function s3Upload({ url, fields }, file) {
  assertUploadTarget(url);
  const form = new FormData();
  for (const [key, value] of Object.entries(fields)) form.append(key, value);
  form.append('file', new Blob([readFileSync(file)], { type: 'image/png' }), basename(file));
  const response = await fetch(url, { method: 'POST', body: form });
  const text = await response.text();
  assert.equal(response.status, 204, `upload to ${url} answered ${response.status}: ${clip(text)}`);
  return true;
}

// ---------------------------------------------------------------- the run

note(`meetkit ${HOST}, application ${APP_ID}, run ${RUN}`);
note(`logo ${env.MEETKIT_LOGO_PNG ? 'from MEETKIT_LOGO_PNG' : 'generated'}: ${LOGO}; favicon ${env.MEETKIT_FAVICON_PNG ? 'from MEETKIT_FAVICON_PNG' : 'generated'}: ${FAVICON}`);

const unknownId = randomUUID();
let instant;
let longTerm;
let longTermExpires;

// -- auth
await step('auth: wrong key -> 401', async () => {
  const { privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const stranger = traced(new Meetings(new Auth({ applicationId: APP_ID, privateKey }), { meetingsHost: HOST }));
  const error = await rejection(() => stranger.getRoom(unknownId));
  assert.equal(error.response?.status, 401, `status ${error.response?.status}`);
  const body = JSON.parse(await errorBody(error));
  assert.deepEqual(body, { title: 'Unauthorized', detail: 'You did not provide correct credentials' });
});

// -- rooms
await step('createRoom instant', async () => {
  const before = Date.now();
  instant = await meetings.createRoom({ displayName: `nk instant ${RUN}`, metadata: `meta-${RUN}`, type: 'instant' });
  assertRoom(instant, { type: 'instant' });
  assert.equal(instant.displayName, `nk instant ${RUN}`);
  assert.equal(instant.metadata, `meta-${RUN}`);
  assert.equal(instant.expireAfterUse, false);
  assert.equal(instant.joinApprovalLevel, 'none');
  const created = Date.parse(instant.createdAt);
  assert.ok(Math.abs(created - before) < 5 * MINUTE, `createdAt ${instant.createdAt} is now`);
  assert.ok(Math.abs(Date.parse(instant.expiresAt) - created - 10 * MINUTE) <= 1000, 'instant room expires 10 min after creation');
});

await step('createRoom long_term', async () => {
  longTermExpires = new Date(Date.now() + 2 * DAY).toISOString();
  longTerm = await meetings.createRoom({
    displayName: `nk long ${RUN}`,
    type: 'long_term',
    expiresAt: longTermExpires,
    expireAfterUse: true,
    joinApprovalLevel: 'after_owner_only',
  });
  assertRoom(longTerm, { type: 'long_term' });
  assert.equal(longTerm.displayName, `nk long ${RUN}`);
  assert.equal(longTerm.metadata, null, 'metadata is null when unset');
  assert.equal(Date.parse(longTerm.expiresAt), Date.parse(longTermExpires), 'expiresAt as requested');
  assert.equal(longTerm.expireAfterUse, true);
  assert.equal(longTerm.joinApprovalLevel, 'after_owner_only');
  assert.notEqual(longTerm.meetingCode, instant?.meetingCode);
});

await step('createRoom long_term without expiresAt -> 400', () =>
  expectApiError(() => meetings.createRoom({ displayName: 'nk bad', type: 'long_term' }), 400));

await step('createRoom long_term expiring in 5 min -> 400', () =>
  expectApiError(() => meetings.createRoom({
    displayName: 'nk bad',
    type: 'long_term',
    expiresAt: new Date(Date.now() + 5 * MINUTE).toISOString(),
  }), 400));

await step('createRoom without displayName -> 400', () =>
  expectApiError(() => meetings.createRoom({ type: 'instant' }), 400));

await step('createRoom with unknown themeId -> 400/404', () =>
  expectApiError(() => meetings.createRoom({ displayName: 'nk bad', themeId: unknownId }), [400, 404]));

await step('getRoom', async () => {
  const room = await meetings.getRoom(longTerm.id);
  assert.deepEqual(room, longTerm);
});

await step('getRoom unknown -> 404', () =>
  expectApiError(() => meetings.getRoom(unknownId), 404, { name: 'NotFoundError' }));

// -- paging
const pagingRooms = [];
await step('createRoom x25 (paging fixtures)', async () => {
  for (let i = 0; i < 25; i += 1) {
    const room = await meetings.createRoom({ displayName: `nk page ${RUN} ${i}` });
    assertRoom(room, { type: 'instant' });
    pagingRooms.push(room);
  }
  assert.equal(new Set(ids(pagingRooms)).size, 25, 'distinct ids');
  assert.equal(new Set(pagingRooms.map((r) => r.meetingCode)).size, 25, 'distinct meeting codes');
});

await step('getRooms (pageSize 4, follows next links)', async () => {
  let pages = 0;
  let firstTotal;
  const getRoomPage = meetings.getRoomPage;
  meetings.getRoomPage = async function countingPage(params) {
    const page = await getRoomPage.call(this, params);
    pages += 1;
    firstTotal ??= page.total_items;
    return page;
  };
  let seen;
  try {
    seen = await all(meetings.getRooms({ pageSize: 4 }));
  } finally {
    delete meetings.getRoomPage;
  }
  const counts = new Map();
  for (const room of seen) counts.set(room.id, (counts.get(room.id) || 0) + 1);
  const dupes = [...counts].filter(([, n]) => n > 1);
  assert.deepEqual(dupes, [], 'no room is yielded twice');
  for (const room of [instant, longTerm, ...pagingRooms]) assert.equal(counts.get(room.id), 1, `room ${room.id} seen once`);
  assert.equal(seen.length, firstTotal, 'yielded as many rooms as total_items');
  assert.ok(pages >= Math.ceil(seen.length / 4), `followed ${pages} pages for ${seen.length} rooms`);
  assert.ok(pages > 1);
  for (const room of seen) {
    assert.match(room.id, UUID);
    absoluteUrl(room.guestUrl, 'guestUrl');
    absoluteUrl(room.hostUrl, 'hostUrl');
  }
  const mine = new Map(seen.map((r) => [r.id, r]));
  assert.deepEqual(mine.get(longTerm.id), longTerm, 'listed room equals created room');
});

await step('getRoomPage (page body, next/prev links, start_id/end_id)', async () => {
  const p1 = await meetings.getRoomPage({ pageSize: 4 });
  assertPage(p1, 'page1');
  assert.equal(p1.page_size, 4);
  assert.ok(p1.total_items >= 27, `total_items ${p1.total_items}`);
  const start = nextStartId(p1);
  assert.ok(start, 'page 1 has a next link');
  const p2 = await meetings.getRoomPage({ pageSize: 4, startId: start });
  assertPage(p2, 'page2');
  assert.equal(p2.page_size, 4);
  assert.equal(p2.total_items, p1.total_items);
  assert.deepEqual(ids(p2._embedded).filter((id) => ids(p1._embedded).includes(id)), [], 'pages do not overlap');
  const prev = absoluteUrl(p2._links?.prev?.href, 'page2._links.prev.href');
  const end = prev.searchParams.get('end_id');
  assert.match(end ?? '', /^\d+$/, `prev end_id is an integer: ${prev}`);
  const back = await meetings.getRoomPage({ pageSize: 4, endId: end });
  assert.deepEqual(ids(back._embedded), ids(p1._embedded), 'prev of page 2 is page 1');
  const dflt = await meetings.getRoomPage();
  assertPage(dflt, 'default page');
  assert.equal(dflt._embedded.length, Math.min(20, dflt.total_items), 'default page_size is 20');
});

// -- themes
let themeA;
let themeB;
await step('createTheme (all fields)', async () => {
  themeA = await meetings.createTheme({
    themeName: `nk-A-${RUN}`,
    mainColor: '#12AB34',
    brandText: 'Brand A',
    shortCompanyUrl: `nk-a-${RUN}`,
  });
  assertTheme(themeA, {
    themeName: `nk-A-${RUN}`,
    mainColor: '#12AB34',
    brandText: 'Brand A',
    shortCompanyUrl: `nk-a-${RUN}`,
    brandImageColored: null,
    brandImageWhite: null,
    brandedFavicon: null,
    brandImageColoredUrl: null,
    brandImageWhiteUrl: null,
    brandedFaviconUrl: null,
  });
});

await step('createTheme (required fields only)', async () => {
  themeB = await meetings.createTheme({ mainColor: '#fff', brandText: 'Brand B' });
  assertTheme(themeB, { mainColor: '#fff', brandText: 'Brand B', shortCompanyUrl: null });
  assert.notEqual(themeB.themeId, themeA.themeId);
});

await step('createTheme duplicate theme_name -> 409', () =>
  expectApiError(() => meetings.createTheme({ themeName: themeA.themeName, mainColor: '#000', brandText: 'x' }),
    409, { name: 'ConflictError', message: /theme_name already exists/ }));

await step('createTheme duplicate short_company_url -> 409', () =>
  expectApiError(() => meetings.createTheme({ themeName: `nk-dup-${RUN}`, mainColor: '#000', brandText: 'x', shortCompanyUrl: themeA.shortCompanyUrl }),
    409, { name: 'ConflictError', message: /short_company_url already exists/ }));

await step('createTheme invalid main_color -> 400', () =>
  expectApiError(() => meetings.createTheme({ mainColor: 'red', brandText: 'x' }), 400));

await step('createTheme invalid short_company_url -> 400', () =>
  expectApiError(() => meetings.createTheme({ mainColor: '#000', brandText: 'x', shortCompanyUrl: '12345' }), 400));

await step('getTheme', async () => {
  assert.deepEqual(await meetings.getTheme(themeA.themeId), themeA);
});

await step('getTheme unknown -> 404', () =>
  expectApiError(() => meetings.getTheme(unknownId), 404, { name: 'NotFoundError', message: /could not find theme/ }));

await step('getThemes', async () => {
  const themes = await all(meetings.getThemes());
  for (const t of themes) assertTheme(t);
  for (const mine of [themeA, themeB]) {
    const found = themes.filter((t) => t.themeId === mine.themeId);
    assert.equal(found.length, 1, `theme ${mine.themeId} listed once`);
    assert.deepEqual(found[0], mine);
  }
});

await step('updateTheme', async () => {
  const updated = await meetings.updateTheme(themeA.themeId, { brandText: 'Brand A2', mainColor: '#000000' });
  assertTheme(updated, { ...themeA, brandText: 'Brand A2', mainColor: '#000000' });
  assert.deepEqual(await meetings.getTheme(themeA.themeId), updated);
  themeA = updated;
});

await step('updateTheme with no keys -> 400', () =>
  expectApiError(() => meetings.updateTheme(themeA.themeId, {}), 400));

await step('updateTheme to an existing theme_name -> 409', () =>
  expectApiError(() => meetings.updateTheme(themeA.themeId, { themeName: themeB.themeName }), 409, { name: 'ConflictError' }));

await step('updateTheme unknown -> 404', () =>
  expectApiError(() => meetings.updateTheme(unknownId, { brandText: 'x' }), 404, { name: 'NotFoundError' }));

// -- rooms by theme
const themedRooms = [];
await step('createRoom with themeId (short_company_url in guest URL)', async () => {
  for (let i = 0; i < 3; i += 1) {
    const room = await meetings.createRoom({ displayName: `nk themed ${RUN} ${i}`, themeId: themeA.themeId });
    assertRoom(room, { type: 'instant', theme: themeA.themeId });
    assert.ok(new URL(room.guestUrl).pathname.endsWith(`/${themeA.shortCompanyUrl}/${room.meetingCode}`), `guestUrl ${room.guestUrl}`);
    themedRooms.push(room);
  }
});

await step('getRoomsForTheme (pageSize 2, follows next links)', async () => {
  let pages = 0;
  const pageFn = meetings.getRoomsForThemePage;
  meetings.getRoomsForThemePage = async function countingPage(...args) {
    pages += 1;
    return pageFn.apply(this, args);
  };
  let rooms;
  try {
    rooms = await all(meetings.getRoomsForTheme(themeA.themeId, { pageSize: 2 }));
  } finally {
    delete meetings.getRoomsForThemePage;
  }
  assert.deepEqual(ids(rooms).sort(), ids(themedRooms).sort());
  for (const room of rooms) assert.equal(room.themeId, themeA.themeId);
  assert.equal(pages, 2, 'two pages of 2 for 3 rooms');
});

await step('getRoomsForThemePage', async () => {
  const page = await meetings.getRoomsForThemePage(themeA.themeId, { pageSize: 2 });
  assertPage(page, 'theme page');
  assert.equal(page.page_size, 2);
  assert.equal(page.total_items, 3);
  const start = nextStartId(page);
  assert.ok(start, 'has a next link');
  const last = await meetings.getRoomsForThemePage(themeA.themeId, { pageSize: 2, startId: start });
  assertPage(last, 'theme page 2');
  assert.equal(last.page_size, 1);
  assert.equal(last._links?.next, undefined, 'no next link on the last page');
});

await step('getRoomsForTheme unused theme -> none', async () => {
  assert.deepEqual(await all(meetings.getRoomsForTheme(themeB.themeId)), []);
});

await step('getRoomsForTheme unknown -> 404', () =>
  expectApiError(() => all(meetings.getRoomsForTheme(unknownId)), 404, { message: /Failed to get rooms because theme id/ }));

// -- update room
await step('updateRoom long_term', async () => {
  const expiresAt = new Date(Date.now() + 3 * DAY).toISOString();
  const updated = await meetings.updateRoom(longTerm.id, {
    expiresAt,
    expireAfterUse: false,
    joinApprovalLevel: 'explicit_approval',
    themeId: themeB.themeId,
  });
  assertRoom(updated, { type: 'long_term', theme: themeB.themeId });
  assert.equal(updated.id, longTerm.id);
  assert.equal(updated.meetingCode, longTerm.meetingCode);
  assert.equal(updated.createdAt, longTerm.createdAt);
  assert.equal(Date.parse(updated.expiresAt), Date.parse(expiresAt));
  assert.equal(updated.expireAfterUse, false);
  assert.equal(updated.joinApprovalLevel, 'explicit_approval');
  assert.deepEqual(await meetings.getRoom(longTerm.id), updated);
  longTerm = updated;
});

await step('updateRoom long_term with displayName/metadata (accepted)', async () => {
  const updated = await meetings.updateRoom(longTerm.id, { displayName: `nk renamed ${RUN}`, metadata: 'm2' });
  assertRoom(updated, { type: 'long_term', theme: themeB.themeId });
  assert.equal(updated.id, longTerm.id);
  if (updated.displayName !== `nk renamed ${RUN}`) note('updateRoom accepted display_name but did not apply it');
  longTerm = updated;
});

await step('updateRoom instant -> 400', () =>
  expectApiError(() => meetings.updateRoom(instant.id, { expireAfterUse: true }), 400,
    { message: /could not be updated because of its type/ }));

await step('updateRoom with no keys -> 400', () =>
  expectApiError(() => meetings.updateRoom(longTerm.id, {}), 400, { name: 'InputValidationError' }));

await step('updateRoom unknown themeId -> 400/404', () =>
  expectApiError(() => meetings.updateRoom(longTerm.id, { themeId: unknownId }), [400, 404]));

await step('updateRoom unknown room -> 404', () =>
  expectApiError(() => meetings.updateRoom(unknownId, { expireAfterUse: true }), 404, { name: 'NotFoundError' }));

// -- logos
const uploadTargets = {};
await step('logos-upload-urls (via _getIconUploadUrl)', async () => {
  for (const type of [LogoType.WHITE, LogoType.COLORED, LogoType.FAVICON]) {
    const target = await meetings._getIconUploadUrl(type);
    assert.ok(target, `an upload url for ${type}`);
    absoluteUrl(target.url, `${type} upload url`);
    const { fields } = target;
    for (const key of ['Content-Type', 'key', 'logoType', 'bucket', 'X-Amz-Algorithm', 'X-Amz-Credential',
      'X-Amz-Date', 'X-Amz-Security-Token', 'Policy', 'X-Amz-Signature']) {
      assert.equal(typeof fields[key], 'string', `${type} fields.${key}`);
    }
    assert.equal(fields['Content-Type'], 'image/png');
    assert.equal(fields.logoType, type);
    assert.match(fields.key, new RegExp(`^auto-expiring-temp/logos/${type}/`));
    uploadTargets[type] = target;
  }
  assert.equal(new Set(Object.values(uploadTargets).map((t) => t.fields.key)).size, 3, 'distinct keys');
});

await step('uploadIcon as shipped (empty POST) -> S3-style XML error', async () => {
  // 1.12.1 sends the upload with no body (see the notes), so the only right answer is a 4xx XML error.
  const target = uploadTargets.white ?? await meetings._getIconUploadUrl(LogoType.WHITE);
  assertUploadTarget(target.url);
  const error = await rejection(() => meetings.uploadIcon(themeA.themeId, LogoType.WHITE, LOGO));
  assert.match(error.message, /^Failed to upload to AWS: /);
  assert.doesNotMatch(error.message, /: undefined$/, 'the answer carried <Error><Message>');
  // The same request again, to see its status: POST, Bearer JWT, no body.
  const response = await fetch(target.url, { method: 'POST', headers: { Authorization: await auth.createBearerHeader() } });
  const text = await response.text();
  assert.ok(response.status >= 400 && response.status < 500, `empty upload answered ${response.status}: ${clip(text)}`);
  assert.match(response.headers.get('content-type') || '', /xml/, 'XML content type');
  assert.match(text, /<Error>[\s\S]*<Message>[\s\S]*<\/Message>/);
});

await step('uploadIcon white/colored/favicon (S3 multipart) + finalizeLogos', async () => {
  const client = clientWithUploader(s3Upload);
  assert.equal(await client.uploadIcon(themeA.themeId, LogoType.WHITE, LOGO), true);
  assert.equal(await client.uploadIcon(themeA.themeId, LogoType.COLORED, LOGO), true);
  assert.equal(await client.uploadIcon(themeA.themeId, LogoType.FAVICON, FAVICON), true);
  const theme = await meetings.getTheme(themeA.themeId);
  assertTheme(theme, { themeName: themeA.themeName, brandText: themeA.brandText });
  for (const key of ['brandImageWhite', 'brandImageColored', 'brandedFavicon']) {
    assert.equal(typeof theme[key], 'string', key);
    assert.ok(theme[key].length > 0, key);
  }
  const expected = { brandImageWhiteUrl: LOGO, brandImageColoredUrl: LOGO, brandedFaviconUrl: FAVICON };
  for (const [key, file] of Object.entries(expected)) {
    absoluteUrl(theme[key], key);
    if (!sameHost(theme[key])) continue;
    const response = await fetch(theme[key]);
    const bytes = Buffer.from(await response.arrayBuffer());
    assert.equal(response.status, 200, `GET ${theme[key]}`);
    assert.deepEqual(bytes.subarray(0, 8), readFileSync(file).subarray(0, 8), `${key} serves a PNG`);
  }
  themeA = theme;
});

await step('uploadIcon opaque logo -> invalid_logo_properties', async () => {
  const error = await rejection(() => clientWithUploader(s3Upload).uploadIcon(themeA.themeId, LogoType.COLORED, OPAQUE));
  assert.equal(error.message, 'Could not attach image to theme: invalid_logo_properties');
});

await step('uploadIcon 200x80 favicon -> invalid_logo_properties', async () => {
  const error = await rejection(() => clientWithUploader(s3Upload).uploadIcon(themeA.themeId, LogoType.FAVICON, WIDE_FAVICON));
  assert.equal(error.message, 'Could not attach image to theme: invalid_logo_properties');
});

await step('uploadIcon finalize of a key never uploaded -> key_not_found', async () => {
  const error = await rejection(() => clientWithUploader(async () => true).uploadIcon(themeA.themeId, LogoType.WHITE, LOGO));
  assert.equal(error.message, 'Could not attach image to theme: key_not_found');
});

// -- default theme and theme deletion
let themeC;
let themeD;
await step('setDefaultTheme', async () => {
  themeD = await meetings.createTheme({ mainColor: '#abc', brandText: 'Brand D' });
  assert.equal(await meetings.setDefaultTheme(themeD.themeId), true);
});

await step('deleteTheme application default -> 400', async () => {
  const body = await expectApiError(() => meetings.deleteTheme(themeD.themeId), 400, { message: /could not delete theme/ });
  assert.ok(Array.isArray(body.errors) && body.errors.length > 0, `errors: ${clip(body.errors)}`);
});

await step('setDefaultTheme unknown -> 400', () =>
  expectApiError(() => meetings.setDefaultTheme(unknownId), 400, { message: /Failed to update application because theme id/ }));

await step('setDefaultTheme (switch) then deleteTheme old default', async () => {
  assert.equal(await meetings.setDefaultTheme(themeA.themeId), true);
  await meetings.deleteTheme(themeD.themeId);
  await expectApiError(() => meetings.getTheme(themeD.themeId), 404);
});

await step('deleteTheme unused (no force)', async () => {
  themeC = await meetings.createTheme({ mainColor: '#123', brandText: 'Brand C' });
  assert.equal(await meetings.deleteTheme(themeC.themeId), undefined);
  await expectApiError(() => meetings.getTheme(themeC.themeId), 404, { name: 'NotFoundError' });
  const listed = await all(meetings.getThemes());
  assert.ok(!listed.some((t) => t.themeId === themeC.themeId), 'no longer listed');
});

await step('deleteTheme unknown -> 404', () =>
  expectApiError(() => meetings.deleteTheme(themeC?.themeId ?? unknownId), 404, { name: 'NotFoundError' }));

await step('deleteTheme in use by a room -> 400', async () => {
  const body = await expectApiError(() => meetings.deleteTheme(themeB.themeId), 400,
    { name: 'BadRequestError', message: /could not delete theme/ });
  assert.ok(Array.isArray(body.errors), 'errors is an array');
  assert.ok(body.errors.some((e) => /used by 1 room/.test(String(e))), `errors: ${clip(body.errors)}`);
  assert.equal((await meetings.getTheme(themeB.themeId)).themeId, themeB.themeId, 'still there');
});

await step('deleteTheme in use, force=true', async () => {
  assert.equal(await meetings.deleteTheme(themeB.themeId, true), undefined);
  await expectApiError(() => meetings.getTheme(themeB.themeId), 404);
  const room = await meetings.getRoom(longTerm.id);
  assert.equal(room.id, longTerm.id, 'the room survives');
  if (room.themeId !== null) note(`room kept themeId ${room.themeId} after its theme was force-deleted`);
});

await step('deleteTheme default + in use, force=true', async () => {
  await expectApiError(() => meetings.deleteTheme(themeA.themeId), 400, { message: /could not delete theme/ });
  await meetings.deleteTheme(themeA.themeId, true);
  await expectApiError(() => meetings.getTheme(themeA.themeId), 404);
  await expectApiError(() => all(meetings.getRoomsForTheme(themeA.themeId)), 404);
});

// -- recordings
if (env.MEETKIT_RECORDING_ID) {
  const recId = env.MEETKIT_RECORDING_ID;
  let recording;
  await step('getRecording', async () => {
    recording = await meetings.getRecording(recId);
    assertRecording(recording, { id: recId, sessionId: env.MEETKIT_SESSION_ID || recording.sessionId });
    if (sameHost(recording.url)) {
      const response = await fetch(recording.url);
      const bytes = await response.arrayBuffer();
      assert.equal(response.status, 200, `GET ${recording.url}`);
      assert.ok(bytes.byteLength > 0, 'the download is not empty');
    }
  });
  if (env.MEETKIT_SESSION_ID) {
    await step('getSessionRecordings', async () => {
      const recs = await all(meetings.getSessionRecordings(env.MEETKIT_SESSION_ID));
      assert.ok(recs.length >= 1);
      for (const r of recs) assert.equal(r.sessionId, env.MEETKIT_SESSION_ID);
      const mine = recs.filter((r) => r.id === recId);
      assert.equal(mine.length, 1, 'the recording is listed once');
      // The download link is signed until now + its lifetime, so two reads a second apart differ in
      // expires/signature: the same recording, the same download path, and the listed link works.
      // (The SDK keeps the API's _links too, camel-cased, with the same signed link in them.)
      const { url: listedUrl, links: _listedLinks, _links: _listedRaw, ...listed } = mine[0];
      const { url: readUrl, links: _readLinks, _links: _readRaw, ...read } = recording;
      assert.deepEqual(listed, read);
      const path = (href) => { const u = absoluteUrl(href, 'recording url'); return u.origin + u.pathname; };
      assert.equal(path(listedUrl), path(readUrl));
      if (sameHost(listedUrl)) assert.equal((await fetch(listedUrl)).status, 200, `GET ${listedUrl}`);
    });
  }
  await step('deleteRecording', async () => {
    assert.equal(await meetings.deleteRecording(recId), undefined);
    await expectApiError(() => meetings.getRecording(recId), 404, { name: 'NotFoundError' });
    await expectApiError(() => meetings.deleteRecording(recId), 404, { name: 'NotFoundError' });
    if (env.MEETKIT_SESSION_ID) {
      let left = [];
      try {
        left = await all(meetings.getSessionRecordings(env.MEETKIT_SESSION_ID));
      } catch (error) {
        if (error.response?.status !== 404) throw error;
      }
      assert.ok(!left.some((r) => r.id === recId), 'no longer listed for its session');
    }
  });
} else {
  note('no MEETKIT_RECORDING_ID: checking the 404 paths only');
  await step('getRecording unknown -> 404', () =>
    expectApiError(() => meetings.getRecording(unknownId), 404, { name: 'NotFoundError' }));
  await step('deleteRecording unknown -> 404', () =>
    expectApiError(() => meetings.deleteRecording(unknownId), 404, { name: 'NotFoundError' }));
  await step('getSessionRecordings unknown -> 404', () =>
    expectApiError(() => all(meetings.getSessionRecordings(unknownId)), 404, { name: 'NotFoundError' }));
}

// -- dial-in numbers
await step('getDialInNumbers', async () => {
  const numbers = await all(meetings.getDialInNumbers());
  for (const n of numbers) {
    assert.deepEqual(Object.keys(n).sort(), ['displayName', 'locale', 'number'], `keys of ${clip(n)}`);
    assert.match(n.number, /^\+?[0-9 ()-]{5,}$/, 'number');
    assert.match(n.locale, /^[a-z]{2}-[A-Z]{2}$/, 'locale');
    assert.equal(typeof n.displayName, 'string');
  }
  note(`${numbers.length} dial-in number(s)`);
});

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
