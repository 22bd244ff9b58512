// Shared set-up of the browser tests: headless Chromium (Debian's, driven by playwright-core),
// a host page on an origin of its own (another port, so every widget message crosses origins),
// the API with the secret key (what an integrator's server does), and screenshots of failures.
//
// tests/browser.rs starts the Refresco servers and passes everything through REFRESCO_* variables.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { chromium } from 'playwright-core';

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run these tests through \`cargo test --test browser\``);
  return value;
}

/** The main server and its keys; `short` has 2-second link intents and second factors. */
export const servers = {
  main: { url: env('REFRESCO_URL'), sk: env('REFRESCO_SK'), pk: env('REFRESCO_PK') },
  short: { url: env('REFRESCO_SHORT_URL'), sk: env('REFRESCO_SHORT_SK'), pk: env('REFRESCO_SHORT_PK') },
};
export const OTHER_ORG_PK = env('REFRESCO_OTHER_ORG_PK');
export const LIVE_PK = env('REFRESCO_LIVE_PK');
/** Links whose bank, account and movement names are MARKUP: one to list, one to refresh. */
export const MARKUP_LINK_TOKEN = env('REFRESCO_MARKUP_LINK_TOKEN');
export const MARKUP_REFRESH_LINK_TOKEN = env('REFRESCO_MARKUP_REFRESH_LINK_TOKEN');
export const MARKUP = env('REFRESCO_MARKUP');
const ARTIFACTS = env('REFRESCO_ARTIFACTS');
const CHROMIUM = process.env.REFRESCO_CHROMIUM || '/usr/bin/chromium';

export const PHONE = { width: 375, height: 667 };
export const DESKTOP = { width: 1280, height: 800 };

// --- The API, as the integrator's server calls it ------------------------------------------

/** Calls the API; returns [status, json]. */
export async function api(server, method, apiPath, { key = server.sk, body } = {}) {
  const headers = { Authorization: key, Accept: 'application/json' };
  if (body) headers['Content-Type'] = 'application/json';
  const response = await fetch(server.url + apiPath, {
    method, headers, body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  return [response.status, text ? JSON.parse(text) : null];
}

/** Calls the API and asserts the status. */
export async function apiOk(server, method, apiPath, options = {}) {
  const [status, json] = await api(server, method, apiPath, options);
  const expected = options.status || (method === 'POST' ? [200, 201] : [200]);
  assert.ok([].concat(expected).includes(status), `${method} ${apiPath}: ${status} ${JSON.stringify(json)}`);
  return json;
}

export function createLinkIntent(server, country, holderType = 'individual') {
  return apiOk(server, 'POST', '/v1/link_intents', {
    body: { product: 'movements', country, holder_type: holderType },
  });
}

/**
 * A Chilean sandbox link whose bank asks for a second factor (given here) at login, once its
 * first history (the `historical` refresh intent its creation started) has ended: a link has
 * one refresh at a time.
 */
export async function createMfaLink(server, password) {
  const link = await apiOk(server, 'POST', '/v1/links', {
    body: { institution_id: 'cl_banco_sandbox', username: '41614850-3', password, mfa_code: '123456' },
  });
  const token = encodeURIComponent(link.link_token);
  await eventually(async () => {
    const intents = await apiOk(server, 'GET', `/v1/refresh_intents?link_token=${token}`);
    return intents.length > 0 && intents.every((intent) => intent.status !== 'created');
  }, 'the first history of a new link');
  return link.link_token;
}

/** A refresh intent that waits for the widget; returns [intent, widget token]. */
export async function createMfaRefresh(server, linkToken) {
  const intent = await apiOk(server, 'POST', '/v1/refresh_intents', { body: { link_token: linkToken } });
  assert.ok(intent.requires_mfa && intent.requires_mfa.widget_token, JSON.stringify(intent));
  return [intent, intent.requires_mfa.widget_token];
}

/** Polls until `check()` returns something truthy (no fixed sleeps), failing after `ms`. */
export async function eventually(check, what, ms = 20000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// --- The host page: an integrator's site on its own origin ----------------------------------

let hostServer;
let hostOrigin;
let rogueServer;
let rogueOrigin;

function hostPage(refresco) {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>An integrator's page</title>
<script src="${refresco}/widget/v1.js"></script></head>
<body>
<h1>An integrator's page</h1>
<button id="opener" type="button">Connect your bank</button>
<p><a href="#after" id="after">a link behind the widget</a></p>
<script>
  window.__log = [];
  document.getElementById('opener').addEventListener('click', function () {
    if (window.__widget) window.__widget.open();
  });
</script>
</body></html>`;
}

// A page on a third origin that tries to talk to the host and to the widget.
const ROGUE = `<!doctype html><html><body><p>rogue</p><script>
  window.addEventListener('message', function (e) {
    var d = e.data || {};
    if (d.type !== 'rogue:go') return;
    var fake = { channel: d.channel };
    // To the host, pretending to be the widget.
    fake.type = 'refresco:success'; fake.payload = { exchangeToken: 'li_fake_exc_x' };
    window.parent.postMessage(fake, '*');
    window.parent.postMessage({ type: 'refresco:close', channel: d.channel }, '*');
    // To the widget frame, pretending to be the host.
    for (var i = 0; i < window.parent.frames.length; i++) {
      window.parent.frames[i].postMessage({ type: 'refresco:open', channel: d.channel }, '*');
      window.parent.frames[i].postMessage({ type: 'refresco:init', channel: d.channel,
        config: { publicKey: 'pk_test_rogue', widgetToken: 'li_x_sec_x', product: 'movements' } }, '*');
    }
    window.parent.postMessage({ type: 'rogue:done' }, '*');
  });
</script></body></html>`;

function listen(handler) {
  return new Promise((resolve) => {
    const server = http.createServer(handler);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

// --- Chromium --------------------------------------------------------------------------------

let context;
let userDataDir;

before(async () => {
  hostServer = await listen((request, response) => {
    const refresco = new URL(request.url, 'http://x').searchParams.get('refresco') || servers.main.url;
    response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    response.end(hostPage(refresco));
  });
  hostOrigin = `http://127.0.0.1:${hostServer.address().port}`;
  rogueServer = await listen((request, response) => {
    response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    response.end(ROGUE);
  });
  rogueOrigin = `http://127.0.0.1:${rogueServer.address().port}`;
  userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'refresco-chromium-'));
  // launchPersistentContext passes this fresh directory as --user-data-dir.
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
    viewport: DESKTOP,
  });
});

after(async () => {
  await context?.close();
  hostServer?.close();
  rogueServer?.close();
  if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
});

export function rogueUrl() {
  return `${rogueOrigin}/rogue.html`;
}

/**
 * A test with a fresh page. Uncaught exceptions in the page or the widget and Content Security
 * Policy violations fail it; on failure a screenshot and the console go to REFRESCO_ARTIFACTS.
 */
export function browserTest(name, { viewport = DESKTOP } = {}, fn) {
  test(name, async () => {
    const page = await context.newPage();
    await page.setViewportSize(viewport);
    page.setDefaultTimeout(15000);
    const problems = [];
    const consoleLines = [];
    page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));
    page.on('console', (message) => {
      consoleLines.push(`[${message.type()}] ${message.text()}`);
      if (/Content Security Policy/i.test(message.text())) problems.push(`CSP: ${message.text()}`);
    });
    try {
      await fn(page);
      assert.deepEqual(problems, [], 'the page reported problems');
    } catch (error) {
      const file = name.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '').toLowerCase();
      fs.mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: path.join(ARTIFACTS, `${file}.png`), fullPage: true }).catch(() => {});
      fs.writeFileSync(path.join(ARTIFACTS, `${file}.console.txt`), [...problems, ...consoleLines].join('\n'));
      console.error(`screenshot: ${path.join(ARTIFACTS, `${file}.png`)}`);
      throw error;
    } finally {
      await page.close();
    }
  });
}

/** A deliberate screenshot of the page as it is, saved as REFRESCO_ARTIFACTS/`name`.png. */
export async function screenshot(page, name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file });
  console.log(`screenshot: ${file}`);
  return file;
}

/** The widget's text table (widget/frame/text.js, an ES module outside any package). */
export async function widgetTexts() {
  const file = new URL('../../widget/frame/text.js', import.meta.url);
  const source = fs.readFileSync(file, 'utf8');
  return import(`data:text/javascript;base64,${Buffer.from(source).toString('base64')}`);
}

// --- The widget from the host page ------------------------------------------------------------

/** Opens the host page (loading the widget script from `server`). */
export async function openHost(page, server = servers.main) {
  await page.goto(`${hostOrigin}/host.html?refresco=${encodeURIComponent(server.url)}`);
  await page.waitForFunction(() => typeof window.Fintoc === 'object');
}

/** Creates the widget on the host page with callbacks that record into `window.__log`. */
export async function createWidget(page, options) {
  return page.evaluate((opts) => {
    try {
      window.__widget = window.Fintoc.create(Object.assign({}, opts, {
        onSuccess: (payload) => window.__log.push(['success', payload]),
        onExit: (payload) => window.__log.push(['exit', payload]),
        onEvent: (name, metadata) => window.__log.push(['event', name, metadata]),
      }));
      return null;
    } catch (error) {
      return error.message;
    }
  }, options);
}

/** Creates and opens the widget (by clicking the host's button, as a person would). */
export async function openWidget(page, options) {
  const error = await createWidget(page, options);
  assert.equal(error, null, `Fintoc.create threw: ${error}`);
  await page.click('#opener');
  const frame = page.frameLocator('iframe[data-refresco-frame]');
  await page.waitForFunction(() => window.__log.some((e) => e[0] === 'event' && e[1] === 'opened'));
  return frame;
}

/** The widget's frame as a Playwright Frame (to evaluate inside it). */
export function widgetFrame(page) {
  return page.frames().find((f) => f.url().includes('/widget#'));
}

export async function log(page) {
  return page.evaluate(() => window.__log);
}

export async function eventNames(page) {
  return (await log(page)).filter((e) => e[0] === 'event').map((e) => e[1]);
}

/** Waits until the host saw `kind` (`success`, `exit`) or the event `name`. */
export async function waitForLog(page, kind, name) {
  await page.waitForFunction(([k, n]) => window.__log.some((e) => e[0] === k && (n === undefined || e[1] === n)),
    [kind, name]);
  return (await log(page)).find((e) => e[0] === kind && (name === undefined || e[1] === name));
}

/** The id of the focused element inside the widget. */
export async function focusedInWidget(page) {
  return widgetFrame(page).evaluate(() => document.activeElement && document.activeElement.id);
}

/** Asserts every event carried a numeric metadata.timestamp. */
export async function assertTimestamps(page) {
  for (const entry of await log(page)) {
    if (entry[0] === 'event') {
      assert.equal(typeof entry[2].timestamp, 'number', `${entry[1]} has metadata.timestamp`);
      assert.ok(Math.abs(entry[2].timestamp - Date.now()) < 120000, 'a real time');
    }
  }
}

/** Whether the widget overlay is shown on the host page. */
export async function widgetVisible(page) {
  return page.evaluate(() => {
    const overlay = document.querySelector('[data-refresco-widget]');
    return Boolean(overlay) && overlay.style.display !== 'none';
  });
}

export { assert };
