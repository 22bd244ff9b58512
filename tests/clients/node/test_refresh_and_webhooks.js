// The official Node client (fintoc 1.15.0, unmodified) on refresh intents and webhook
// signatures, against a live Refresco. Same environment and checks as the Python script.
'use strict';

const fs = require('fs');
const { Fintoc, WebhookSignature, WebhookSignatureError } = require('fintoc');
const { InvalidRequestError } = require('fintoc/build/main/lib/errors');

const TOKEN = process.env.FINTOC_LINK_TOKEN;
const fintoc = new Fintoc(process.env.FINTOC_SECRET_KEY);
fintoc.links._client.baseUrl = process.env.FINTOC_BASE_URL; // as the README shows

let passed = 0;
let failed = 0;
function check(name, condition, detail = '') {
  if (condition) {
    passed += 1;
    console.log(`ok   ${name}`);
  } else {
    failed += 1;
    console.log(`FAIL ${name}: ${detail}`);
  }
}

async function waitFinal(id, token = TOKEN) {
  const deadline = Date.now() + 60000;
  while (Date.now() < deadline) {
    const intent = await fintoc.refreshIntents.get(id, { link_token: token });
    if (intent.status !== 'created') return intent;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${id} never finished`);
}

(async () => {
  // A new link's movements come with its first history, a historical refresh intent that its
  // creation started: wait for it as an integration does, then read the movements.
  const started = await fintoc.refreshIntents.list({ link_token: TOKEN, lazy: false });
  check('a new link has one intent, its history',
    started.length === 1 && started[0].type === 'historical', JSON.stringify(started.map((i) => [i.id, i.type])));
  const history = await waitFinal(started[0].id);
  check('the history succeeded with movements', history.status === 'succeeded' && history.new_movements > 0,
    `${history.status} ${history.new_movements}`);
  const accounts = await fintoc.accounts.list({ link_token: TOKEN, lazy: false });
  const movements = await fintoc.accounts.movements.list({ account_id: accounts[0].id, link_token: TOKEN, lazy: false });
  check("the account's movements are there", movements.length > 0, movements.length);

  const first = await fintoc.refreshIntents.create({ link_token: TOKEN, refresh_type: 'only_last' });
  check('create (body) answers created', first.status === 'created', first.status);
  check('create has an ri_ id', first.id.startsWith('ri_'), first.id);

  try {
    await fintoc.refreshIntents.create({ link_token: TOKEN });
    check('in progress raises InvalidRequestError', false, 'no exception');
  } catch (e) {
    check('in progress raises InvalidRequestError',
      e instanceof InvalidRequestError && String(e.message).includes('refresh_intent_in_progress'), String(e));
  }

  const done = await waitFinal(first.id);
  check('get returns the intent', done.id === first.id, done.id);
  check('it succeeded', done.status === 'succeeded', done.status);

  const link = await fintoc.links.get(TOKEN);
  const second = await link.refreshIntents.create({ refresh_type: 'historical' });
  check('create (query) answers created', second.status === 'created' && second.type === 'historical',
    `${second.status} ${second.type}`);
  await waitFinal(second.id);

  const intents = await fintoc.refreshIntents.list({ link_token: TOKEN, lazy: false });
  check('list has all three, newest first',
    JSON.stringify(intents.map((i) => i.id)) === JSON.stringify([second.id, first.id, history.id]),
    JSON.stringify(intents.map((i) => i.id)));

  const body = fs.readFileSync(process.env.FINTOC_WEBHOOK_BODY_FILE, 'utf8');
  const header = process.env.FINTOC_WEBHOOK_HEADER;
  const secret = process.env.FINTOC_WEBHOOK_SECRET;
  let verified = false;
  try {
    WebhookSignature.verifyHeader(body, header, secret);
    verified = true;
  } catch (e) {
    verified = String(e);
  }
  check('verifyHeader accepts a real delivery', verified === true, verified);
  try {
    WebhookSignature.verifyHeader(`${body} `, header, secret);
    check('verifyHeader refuses a tampered body', false, 'accepted');
  } catch (e) {
    check('verifyHeader refuses a tampered body', e instanceof WebhookSignatureError, String(e));
  }

  // Reconnecting: the bank refuses a link's credentials; new ones reconnect it in place.
  const REJECTED = process.env.FINTOC_REJECTED_LINK_TOKEN;
  const refused = await waitFinal((await fintoc.refreshIntents.create({ link_token: REJECTED })).id, REJECTED);
  check('the refresh is rejected', refused.status === 'rejected', refused.status);
  const before = await fintoc.links.get(REJECTED);
  check('the link needs its holder', before.status === 'login_required', before.status);
  const ids = async () => (await fintoc.accounts.list({ link_token: REJECTED, lazy: false })).map((a) => a.id);
  const accountsBefore = await ids();
  try {
    await fintoc.refreshIntents.create({ link_token: REJECTED });
    check('a refresh is refused until reconnected', false, 'no exception');
  } catch (e) {
    check('a refresh is refused until reconnected', String(e.message).includes('rejected_refresh_intent'), String(e));
  }
  const after = await fintoc.links.update(REJECTED, { password: 'jonsnow' });
  check('reconnected in place', after.id === before.id && after.status === 'active', `${after.id} ${after.status}`);
  const again = await waitFinal((await fintoc.refreshIntents.create({ link_token: REJECTED })).id, REJECTED);
  check('it refreshes again', again.status === 'succeeded', again.status);
  const accountsAfter = await ids();
  check('the same accounts', JSON.stringify(accountsAfter) === JSON.stringify(accountsBefore),
    JSON.stringify(accountsAfter));

  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
})().catch((e) => {
  console.log(`FAIL unexpected: ${e && e.stack ? e.stack : e}`);
  process.exit(1);
});
