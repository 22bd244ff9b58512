// Refresco whose only bank is Banco Falso behind its Python connector, in Chromium: a link
// created from the widget (the bank asks for its SMS code), the bank's data changing, and a
// refresh whose SMS code is typed in the widget (a wrong one first); the movements come out new,
// modified and removed. tests/python_connectors/browser.rs starts everything, runs this file
// (it lives apart from tests/browser/*.test.mjs, which run against the sandbox banks), and
// checks the webhooks afterwards.

import {
  api, apiOk, assert, browserTest, createLinkIntent, eventNames, eventually, openHost, openWidget, servers,
  waitForLog,
} from '../harness.mjs';

const main = servers.main;
const BANK = process.env.FAKEBANK_URL;
const [RUT, PASSWORD, CODE] = ['22222222-2', 'fakepass2', '123456'];

async function movements(linkToken) {
  const accounts = await apiOk(main, 'GET', `/v1/accounts?link_token=${linkToken}`);
  const all = [];
  for (const account of accounts) {
    all.push(...await apiOk(main, 'GET', `/v1/accounts/${account.id}/movements?link_token=${linkToken}&per_page=300`));
  }
  return all;
}

async function typeCode(frame, code) {
  const input = frame.getByLabel('SMS code', { exact: true });
  await input.fill(code);
  await frame.getByRole('button', { name: 'Continue' }).click();
}

browserTest('Banco Falso: a link from the widget, then a refresh with its SMS code', {}, async (page) => {
  // Banco Falso is the server's only bank, served by the connector.
  const institutions = await apiOk(main, 'GET', '/v1/institutions');
  assert.deepEqual(institutions.map((i) => [i.id, i.source]), [['cl_banco_falso', 'connector']]);

  // The link, as a person makes it.
  const intent = await createLinkIntent(main, 'cl');
  await openHost(page);
  let frame = await openWidget(page, {
    publicKey: main.pk, widgetToken: intent.widget_token, holderType: intent.holder_type,
    product: 'movements', country: 'cl', language: 'en',
  });
  await frame.getByRole('button', { name: 'Banco Falso' }).click();
  await frame.getByLabel('RUT').fill(RUT);
  await frame.getByLabel('Password').fill(PASSWORD);
  await frame.getByRole('button', { name: 'Connect' }).click();
  await waitForLog(page, 'event', 'sms_authentication_required');
  await typeCode(frame, CODE);
  const [, success] = await waitForLog(page, 'success');
  assert.equal(success.link.institution.id, 'cl_banco_falso');
  const link = await apiOk(main, 'GET', `/v1/links/exchange?exchange_token=${success.exchangeToken}`);
  // The movements come with the link's first history, fetched with the widget's session.
  const token = encodeURIComponent(link.link_token);
  const [history] = await eventually(async () => {
    const intents = await apiOk(main, 'GET', `/v1/refresh_intents?link_token=${token}`);
    return intents.every((i) => i.status !== 'created') && intents;
  }, 'the first history');
  assert.equal(history.type, 'historical');
  assert.equal(history.status, 'succeeded', JSON.stringify(history));
  const before = await movements(link.link_token);
  assert.ok(before.length > 20, `the history came in: ${before.length}`);

  // The bank changes: per account a new movement, the newest edited, the next one removed.
  const changed = await fetch(`${BANK}/_control/mutate`, { method: 'POST' });
  assert.equal(changed.status, 200);

  // The refresh: its SMS code is typed in the widget.
  const refresh = await apiOk(main, 'POST', '/v1/refresh_intents', { body: { link_token: link.link_token } });
  assert.equal(refresh.mfa_method, 'sms', JSON.stringify(refresh));
  await openHost(page);
  frame = await openWidget(page, {
    publicKey: main.pk, widgetToken: refresh.requires_mfa.widget_token, holderType: 'individual',
    product: 'refresh_intent', language: 'en',
  });
  await waitForLog(page, 'event', 'sms_authentication_required');
  await typeCode(frame, '000000');
  await frame.getByRole('alert').filter({ hasText: 'That code is not right' }).waitFor();
  await typeCode(frame, CODE);
  const [, refreshed] = await waitForLog(page, 'success');
  assert.deepEqual(refreshed, { refreshIntentId: refresh.id, status: 'succeeded' });
  assert.deepEqual(await eventNames(page), ['opened', 'sms_authentication_required']);
  const [status, done] = await api(main, 'GET', `/v1/refresh_intents/${refresh.id}?link_token=${link.link_token}`);
  assert.equal(status, 200);
  assert.equal(done.status, 'succeeded');
  assert.equal(done.new_movements, 2, 'one new movement per account');

  const after = await movements(link.link_token);
  const ids = (list) => new Set(list.map((m) => m.id));
  const added = after.filter((m) => !ids(before).has(m.id));
  const removed = before.filter((m) => !ids(after).has(m.id));
  const modified = after.filter((m) => before.some((b) => b.id === m.id && b.description !== m.description));
  assert.deepEqual(added.map((m) => m.description), ['Abono nuevo 1', 'Abono nuevo 1']);
  assert.equal(removed.length, 2, 'one removed per account');
  assert.equal(modified.length, 2, 'one modified per account, same id');
  assert.ok(modified.every((m) => m.description.endsWith('(corregido 1)')));
});
