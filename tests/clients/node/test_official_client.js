#!/usr/bin/env node
/*
 * Drives the UNMODIFIED official Fintoc Node client (fintoc 1.15.0) against Refresco.
 *
 * Every value the client returns is compared with what a raw HTTP call to the same server
 * returns. The client turns any Date.parse-able string into a Date (even "mov 1"), so only
 * ids, numbers, booleans and enums are compared, never free text.
 *
 * Environment:
 *   FINTOC_BASE_URL           e.g. http://127.0.0.1:8080 (no trailing slash)
 *   FINTOC_SECRET_KEY         a test-mode secret key of the organization owning the links
 *   FINTOC_LINK_TOKEN         a link with an account holding more than 60 movements; left active
 *   FINTOC_DELETE_LINK_TOKEN  another link of the same organization; it is DELETED
 *
 * The organization must have at least three links. Exits 0 when every check passed.
 */
'use strict';

// axios honours proxy variables: loopback traffic must never go to a proxy.
for (const name of ['HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'http_proxy', 'https_proxy', 'all_proxy']) {
  delete process.env[name];
}
process.env.NO_PROXY = process.env.no_proxy = '127.0.0.1,localhost';

const { Fintoc } = require('fintoc');
const { AuthenticationError, InvalidRequestError } = require('fintoc/build/main/lib/errors');
const { Link } = require('fintoc/build/main/lib/resources/link');
const { Account } = require('fintoc/build/main/lib/resources/account');
const { Movement } = require('fintoc/build/main/lib/resources/movement');
const fintocVersion = require('fintoc/package.json').version;

function env(name) {
  const value = process.env[name] || '';
  if (!value) {
    console.log(`FAIL: environment variable ${name} is required`);
    process.exit(1);
  }
  return value;
}

const BASE = env('FINTOC_BASE_URL').replace(/\/+$/, '');
const KEY = env('FINTOC_SECRET_KEY');
const LINK_TOKEN = env('FINTOC_LINK_TOKEN');
const DELETE_LINK_TOKEN = env('FINTOC_DELETE_LINK_TOKEN');

class CheckFailed extends Error {}

function check(condition, message) {
  if (!condition) throw new CheckFailed(message);
}

function equal(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  check(a === e, `${what}: expected ${e}, got ${a}`);
}

// --- raw HTTP, independent of the client (Node's fetch ignores proxy variables) -------------

async function raw(method, pathOrUrl, key = KEY) {
  const url = pathOrUrl.startsWith('http') ? pathOrUrl : BASE + pathOrUrl;
  const headers = key === null ? {} : { Authorization: key };
  const response = await fetch(url, { method, headers, redirect: 'manual' });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : null };
}

async function rawOk(pathOrUrl) {
  const r = await raw('GET', pathOrUrl);
  equal(r.status, 200, `raw GET ${pathOrUrl} status (body ${JSON.stringify(r.body)})`);
  return r;
}

function nextUrl(headers) {
  for (const part of (headers.get('link') || '').split(', ')) {
    if (part.endsWith('; rel="next"')) return part.slice(1, part.indexOf('>'));
  }
  return null;
}

async function rawCrawl(path) {
  let r = await rawOk(path);
  const total = Number(r.headers.get('x-total-count'));
  const items = [...r.body];
  let pages = 1;
  let url = nextUrl(r.headers);
  while (url) {
    r = await rawOk(url);
    items.push(...r.body);
    pages += 1;
    url = nextUrl(r.headers);
  }
  equal(items.length, total, `raw crawl of ${path}: element count vs X-Total-Count`);
  return { items, total, pages };
}

async function rawError(path, method = 'GET', key = KEY) {
  const r = await raw(method, path, key);
  check(r.status >= 400, `raw ${method} ${path} should fail, got ${r.status}`);
  check(r.body && r.body.error, `raw ${method} ${path}: no error JSON: ${JSON.stringify(r.body)}`);
  return r.body.error;
}

const q = encodeURIComponent;

// --- the official client ---------------------------------------------------------------------

function makeClient(key = KEY) {
  const fintoc = new Fintoc(key);
  fintoc.links._client.baseUrl = BASE; // as the README shows (The official clients)
  return fintoc;
}

const CLIENT = makeClient();
const BAD_KEY = 'sk_test_not_a_real_key';

async function collect(generatorPromise) {
  const out = [];
  for await (const item of await generatorPromise) out.push(item);
  return out;
}

const ids = (list) => list.map((x) => x.id);

/** `call()` must reject with exactly `klass`, whose message carries the server's type and code. */
async function expectError(klass, rawPath, call, what, method = 'GET') {
  const expected = await rawError(rawPath, method, klass === AuthenticationError ? BAD_KEY : KEY);
  let result;
  try {
    result = await call();
  } catch (exc) {
    check(exc instanceof klass && exc.constructor === klass,
      `${what}: expected ${klass.name}, got ${exc && exc.constructor && exc.constructor.name}: ${exc && exc.message}`);
    check(exc.message.startsWith(`${expected.type}: ${expected.code}`),
      `${what}: message ${JSON.stringify(exc.message)} does not start with the server's type and code ${JSON.stringify(expected)}`);
    return;
  }
  throw new CheckFailed(`${what}: expected ${klass.name}, got a result: ${JSON.stringify(result)}`);
}

// --- checks ----------------------------------------------------------------------------------

async function checkListLinks() {
  const { items: rawLinks, total } = await rawCrawl('/v1/links');
  check(total >= 3, `the organization needs at least 3 links, has ${total}`);
  const links = await CLIENT.links.list({ lazy: false });
  equal(ids(links), ids(rawLinks), 'links.list({lazy:false}) ids, in order');
  check(links.every((l) => l instanceof Link), 'links.list returns Link objects');
  // One per page: the client must follow `next` (total - 1 >= 2 times) and keep per_page.
  const paged = await collect(CLIENT.links.list({ per_page: 1 }));
  equal(ids(paged), ids(rawLinks), 'links.list({per_page:1}) ids (lazy)');
  const byId = Object.fromEntries(rawLinks.map((l) => [l.id, l]));
  for (const link of links) {
    const expected = byId[link.id];
    equal(link.holder_id, expected.holder_id, `${link.id} holder_id`);
    equal(link.mode, 'test', `${link.id} mode`);
    equal(link.active, expected.active, `${link.id} active`);
    equal(link.institution.id, expected.institution.id, `${link.id} institution.id`);
    check(link.created_at instanceof Date && !Number.isNaN(link.created_at.getTime()),
      `${link.id} created_at is a Date`);
    equal(link.created_at.toISOString(), new Date(expected.created_at).toISOString(), `${link.id} created_at`);
  }
}

async function checkGetLink() {
  const { body: expected } = await rawOk(`/v1/links/${q(LINK_TOKEN)}`);
  const link = await CLIENT.links.get(LINK_TOKEN);
  check(link instanceof Link, 'links.get returns a Link');
  equal(link.id, expected.id, 'links.get id');
  check(LINK_TOKEN.startsWith(`${link.id}_token_`), 'the link token belongs to the link id');
  for (const field of ['holder_id', 'holder_type', 'status', 'active', 'mode']) {
    equal(link[field], expected[field], `links.get ${field}`);
  }
  equal(link.institution.id, expected.institution.id, 'links.get institution.id');
  // The manager form with the link token (Node's link-scoped accounts manager is deprecated).
  const accounts = await CLIENT.accounts.list({ link_token: LINK_TOKEN, lazy: false });
  equal(ids(accounts), ids(expected.accounts), 'accounts of links.get vs accounts.list');
}

async function checkAccounts() {
  const { items: rawAccounts, total } = await rawCrawl(`/v1/accounts?link_token=${q(LINK_TOKEN)}`);
  check(total >= 2, `the link should have several accounts, has ${total}`);
  const accounts = await CLIENT.accounts.list({ link_token: LINK_TOKEN, lazy: false });
  equal(ids(accounts), ids(rawAccounts), 'accounts.list ids');
  check(accounts.every((a) => a instanceof Account), 'accounts.list returns Account objects');
  const paged = await collect(CLIENT.accounts.list({ link_token: LINK_TOKEN, per_page: 1 }));
  equal(ids(paged), ids(rawAccounts), 'accounts.list({per_page:1}) ids');
  for (const expected of rawAccounts) {
    const account = await CLIENT.accounts.get(expected.id, { link_token: LINK_TOKEN });
    check(account instanceof Account, 'accounts.get returns an Account');
    equal(account.id, expected.id, 'accounts.get id');
    for (const field of ['currency', 'type', 'holder_id']) {
      equal(account[field], expected[field], `${expected.id} ${field}`);
    }
    for (const field of ['available', 'current', 'limit']) {
      equal(account.balance[field], expected.balance[field], `${expected.id} balance.${field}`);
    }
  }
}

async function checkMovements() {
  const { body: rawAccounts } = await rawOk(`/v1/accounts?link_token=${q(LINK_TOKEN)}`);
  const accountId = rawAccounts[0].id;
  const base = `/v1/accounts/${accountId}/movements?link_token=${q(LINK_TOKEN)}`;
  const { items: rawAll, total, pages } = await rawCrawl(base);
  check(total > 60, `${accountId} needs more than 60 movements (3+ pages of 30), has ${total}`);
  check(pages >= 3, `raw crawl spans at least 3 pages, got ${pages}`);

  // Default page size: the client follows `next` until the end.
  const movements = await CLIENT.accounts.movements.list({
    account_id: accountId, link_token: LINK_TOKEN, lazy: false,
  });
  equal(movements.length, total, 'accounts.movements.list count vs X-Total-Count');
  equal(ids(movements), ids(rawAll), 'accounts.movements.list ids, in order');
  check(movements.every((m) => m instanceof Movement), 'movements are Movement objects');
  const byId = Object.fromEntries(rawAll.map((m) => [m.id, m]));
  for (const movement of movements) {
    const expected = byId[movement.id];
    equal(movement.amount, expected.amount, `${movement.id} amount`);
    equal(movement.type, expected.type, `${movement.id} type`);
    equal(movement.pending, expected.pending, `${movement.id} pending`);
    check(movement.post_date instanceof Date, `${movement.id} post_date is a Date`);
    equal(movement.post_date.toISOString(), new Date(expected.post_date).toISOString(), `${movement.id} post_date`);
  }

  // Streaming form with an explicit page size.
  const streamed = await collect(CLIENT.accounts.movements.list({
    account_id: accountId, link_token: LINK_TOKEN, per_page: 25,
  }));
  equal(ids(streamed), ids(rawAll), 'accounts.movements.list({per_page:25}) ids (lazy)');

  // Filters pass through untouched (as strings); compare with the server's own answer.
  const dates = [...new Set(rawAll.map((m) => m.post_date.slice(0, 10)))].sort();
  const since = dates[Math.floor(dates.length / 4)];
  const until = dates[Math.floor((3 * dates.length) / 4)];
  const { items: windowRaw } = await rawCrawl(`${base}&since=${since}&until=${until}&confirmed_only=false`);
  check(windowRaw.length > 0, 'the window holds movements');
  const windowed = await CLIENT.accounts.movements.list({
    account_id: accountId, link_token: LINK_TOKEN, since, until, confirmed_only: 'false', lazy: false,
  });
  equal(ids(windowed), ids(windowRaw), `movements since=${since} until=${until} ids`);

  // One movement.
  const wanted = rawAll[Math.floor(rawAll.length / 2)];
  const one = await CLIENT.accounts.movements.get(wanted.id, { account_id: accountId, link_token: LINK_TOKEN });
  check(one instanceof Movement, 'accounts.movements.get returns a Movement');
  equal(one.id, wanted.id, 'accounts.movements.get id');
  equal(one.amount, wanted.amount, 'accounts.movements.get amount');
  equal(one.currency, wanted.currency, 'accounts.movements.get currency');
}

async function checkUpdateLink() {
  const rawActive = async () => (await rawOk(`/v1/links/${q(LINK_TOKEN)}`)).body.active;
  equal(await rawActive(), true, 'link starts active');
  let updated = await CLIENT.links.update(LINK_TOKEN, { active: false });
  check(updated instanceof Link, 'links.update returns a Link');
  equal(updated.active, false, 'links.update({active:false}) answer');
  equal(await rawActive(), false, 'server state after links.update({active:false})');
  updated = await CLIENT.links.update(LINK_TOKEN, { active: true });
  equal(updated.active, true, 'links.update({active:true}) answer');
  equal(await rawActive(), true, 'server state after links.update({active:true})');
  // The resource form: PATCH /v1/links/L?link_token=L.
  const link = await CLIENT.links.get(LINK_TOKEN);
  await link.update({ active: false });
  equal(await rawActive(), false, 'server state after link.update({active:false})');
  const again = await link.update({ active: true });
  equal(again.active, true, 'link.update({active:true}) answer');
  equal(await rawActive(), true, 'server state after link.update({active:true})');
}

async function checkErrors() {
  const bad = makeClient(BAD_KEY);
  await expectError(AuthenticationError, '/v1/links', () => bad.links.list({ lazy: false }),
    'links.list with an invalid key');
  await expectError(AuthenticationError, `/v1/links/${q(LINK_TOKEN)}`, () => bad.links.get(LINK_TOKEN),
    'links.get with an invalid key');
  const bogus = `${LINK_TOKEN.split('_token_')[0]}_token_notTheRealSecret000000`;
  await expectError(InvalidRequestError, `/v1/links/${q(bogus)}`, () => CLIENT.links.get(bogus),
    'links.get with an invalid link token');
  await expectError(InvalidRequestError, `/v1/accounts?link_token=${q(bogus)}`,
    () => CLIENT.accounts.list({ link_token: bogus, lazy: false }),
    'accounts.list with an invalid link token');
  await expectError(InvalidRequestError, '/v1/accounts', () => CLIENT.accounts.list({ lazy: false }),
    'accounts.list without a link token');
  await expectError(InvalidRequestError, `/v1/accounts/acc_doesNotExist00000?link_token=${q(LINK_TOKEN)}`,
    () => CLIENT.accounts.get('acc_doesNotExist00000', { link_token: LINK_TOKEN }),
    'accounts.get of an unknown account');
  const { body: rawAccounts } = await rawOk(`/v1/accounts?link_token=${q(LINK_TOKEN)}`);
  const accountId = rawAccounts[0].id;
  await expectError(InvalidRequestError,
    `/v1/accounts/${accountId}/movements/mov_doesNotExist00000?link_token=${q(LINK_TOKEN)}`,
    () => CLIENT.accounts.movements.get('mov_doesNotExist00000', { account_id: accountId, link_token: LINK_TOKEN }),
    'accounts.movements.get of an unknown movement');
  await expectError(InvalidRequestError,
    `/v1/accounts/${accountId}/movements?link_token=${q(LINK_TOKEN)}&since=yesterday`,
    () => CLIENT.accounts.movements.list({
      account_id: accountId, link_token: LINK_TOKEN, since: 'yesterday', lazy: false,
    }),
    'accounts.movements.list with an invalid since');
  await expectError(InvalidRequestError, '/v1/links/link_doesNotExist0000',
    () => CLIENT.links.delete('link_doesNotExist0000'), 'links.delete of an unknown link', 'DELETE');
}

async function checkDeleteLink() {
  const link = await CLIENT.links.get(DELETE_LINK_TOKEN);
  const linkId = link.id;
  const before = ids((await rawCrawl('/v1/links')).items);
  check(before.includes(linkId), `${linkId} is listed before deletion`);
  // The manager with the link TOKEN, as Node's link.delete() does; the manager also appends
  // junk query parameters (update=function…&delete=function…) the server must ignore.
  const result = await CLIENT.links.delete(DELETE_LINK_TOKEN);
  equal(result, DELETE_LINK_TOKEN, 'links.delete returns the identifier');
  const gone = await raw('GET', `/v1/links/${q(DELETE_LINK_TOKEN)}`);
  equal(Math.floor(gone.status / 100), 4, `the deleted link is gone (GET answered ${gone.status})`);
  const after = ids((await rawCrawl('/v1/links')).items);
  equal(after, before.filter((id) => id !== linkId), 'links listed after deletion');
  await expectError(InvalidRequestError, `/v1/links/${q(DELETE_LINK_TOKEN)}`,
    () => CLIENT.links.get(DELETE_LINK_TOKEN), 'links.get of a deleted link');
  equal((await CLIENT.links.get(LINK_TOKEN)).active, true, 'the other link survives');
}

const CHECKS = [
  checkListLinks,
  checkGetLink,
  checkAccounts,
  checkMovements,
  checkUpdateLink,
  checkErrors,
  checkDeleteLink, // last: it removes a link the other checks count
];

async function main() {
  console.log(`fintoc (node) ${fintocVersion}, node ${process.version}, base ${BASE}`);
  if (fintocVersion !== '1.15.0') {
    console.log(`FAIL: fintoc ${fintocVersion} installed, 1.15.0 expected (run npm ci)`);
    return 1;
  }
  let passed = 0;
  let failed = 0;
  for (const fn of CHECKS) {
    try {
      await fn();
      passed += 1;
      console.log(`ok   ${fn.name}`);
    } catch (exc) {
      failed += 1;
      if (exc instanceof CheckFailed) console.log(`FAIL ${fn.name}: ${exc.message}`);
      else console.log(`FAIL ${fn.name}: unexpected exception\n${exc && exc.stack}`);
    }
  }
  console.log(`node official client: ${passed} passed, ${failed} failed`);
  return failed ? 1 : 0;
}

main().then((code) => { process.exitCode = code; }, (exc) => {
  console.log(`FAIL: ${exc && exc.stack}`);
  process.exitCode = 1;
});
