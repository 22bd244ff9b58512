// One language per session: Spanish unless the host asks for English (`language: 'en'`), on
// every screen, the bank's second-factor hint included; the success screen is shown before
// onSuccess, and the widget is as tall as its content. Screenshots of the success screen in
// both languages go to REFRESCO_ARTIFACTS: success-link-es.png and success-link-en.png.

import {
  assert, browserTest, createLinkIntent, createMfaLink, createMfaRefresh, eventually, log, openHost,
  openWidget, screenshot, servers, waitForLog, widgetFrame, widgetTexts, widgetVisible,
} from './harness.mjs';

const main = servers.main;
const { TEXTS } = await widgetTexts();

// What a person reads in each language, to find the elements by.
const WORDS = {
  es: {
    password: 'Contraseña', connect: 'Conectar', smsCode: 'Código SMS', continue: 'Continuar', done: 'Listo',
    linked: 'Tu banco está conectado', refreshed: 'Tus movimientos están al día', frameTitle: 'Conecta tu banco (Refresco)',
    prompt: /^Banco Sandbox Chile te envió un código por SMS al \+56 9 \*{4} \d{4}\. \(Modo de prueba/,
  },
  en: {
    password: 'Password', connect: 'Connect', smsCode: 'SMS code', continue: 'Continue', done: 'Done',
    linked: 'Your bank is connected', refreshed: 'Your movements are up to date', frameTitle: 'Connect your bank (Refresco)',
    prompt: /^Banco Sandbox Chile sent you a code by SMS to \+56 9 \*{4} \d{4}\. \(Test mode/,
  },
};

/** The fixed words of a language's table: its strings, and the parts of its functions' texts. */
function phrases(language) {
  return Object.values(TEXTS[language]).flatMap((entry) => (typeof entry === 'function'
    ? entry('\u0001', '\u0002').split(/[\u0001\u0002]/) : [entry]))
    .map((p) => p.trim()).filter((p) => p.length >= 5);
}

/** Asserts that nothing the widget shows now (text, labels, titles) is in the other language. */
async function assertOneLanguage(page, language) {
  const other = language === 'es' ? 'en' : 'es';
  const own = new Set(phrases(language));
  // The bank's own words (the sandbox bank speaks Spanish) must not leak into an English session.
  const foreign = phrases(other).filter((p) => !own.has(p))
    .concat(language === 'en' ? ['Enviamos', 'código'] : ['sent you', 'Test mode']);
  const shown = await widgetFrame(page).evaluate(() => [
    document.documentElement.lang, document.title, document.body.innerText,
    ...Array.from(document.querySelectorAll('[aria-label]'), (el) => el.getAttribute('aria-label')),
  ].join('\n'));
  assert.ok(shown.startsWith(language + '\n'), `the page says it is in ${language}`);
  for (const phrase of foreign) assert.ok(!shown.includes(phrase), `"${phrase}" (${other}) shown in a ${language} session:\n${shown}`);
  assert.equal(await page.locator('iframe[data-refresco-frame]').getAttribute('title'), WORDS[language].frameTitle);
}

/** The widget on a desktop screen is as tall as its dialog, not a fixed tall box. */
async function assertSizedToContent(page) {
  const frame = page.locator('iframe[data-refresco-frame]');
  await eventually(async () => {
    const box = await frame.boundingBox();
    const dialog = await widgetFrame(page).evaluate(() => document.getElementById('dialog').getBoundingClientRect().height);
    return Math.abs(box.height - Math.max(240, Math.ceil(dialog))) <= 1;
  }, 'the widget to fit its content');
  assert.ok((await frame.boundingBox()).height < 560, 'no large empty area under a short step');
}

function successCount(entries) {
  return entries.filter((e) => e[0] === 'success').length;
}

for (const language of ['es', 'en']) {
  const words = WORDS[language];
  const asked = language === 'es' ? '(the default)' : '(asked for)';

  browserTest(`link in ${language} ${asked}: one language on every screen; the success screen before onSuccess`, {}, async (page) => {
    const intent = await createLinkIntent(main, 'cl');
    await openHost(page);
    const options = { publicKey: main.pk, widgetToken: intent.widget_token, product: 'movements', country: 'cl' };
    if (language === 'en') options.language = 'en';
    const frame = await openWidget(page, options);
    await frame.getByRole('button', { name: 'Banco Sandbox Chile' }).click();
    await frame.getByLabel('RUT').fill('41614850-3');
    await assertOneLanguage(page, language);
    await frame.getByLabel(words.password).fill('jonsnow+mfa_sms');
    await frame.getByRole('button', { name: words.connect }).click();

    // The second factor: the widget's own words; of the bank's hint, the phone number only.
    const code = frame.getByLabel(words.smsCode, { exact: true });
    await code.waitFor();
    assert.match(await frame.locator('#code-prompt').textContent(), words.prompt);
    await assertOneLanguage(page, language);
    await assertSizedToContent(page);
    await code.fill('000000');
    await frame.getByRole('button', { name: words.continue }).click();
    await frame.getByRole('alert').filter({ hasText: language === 'es' ? 'Te quedan 2 intentos.' : '2 attempts left.' }).waitFor();
    await assertOneLanguage(page, language);
    await code.fill('123456');
    await frame.getByRole('button', { name: words.continue }).click();

    // The success screen shows first; onSuccess follows, with the widget still showing it.
    await frame.getByRole('heading', { name: words.linked }).waitFor();
    assert.equal(successCount(await log(page)), 0, 'the person sees the screen before onSuccess');
    await assertOneLanguage(page, language);
    await screenshot(page, `success-link-${language}`);
    const [, success] = await waitForLog(page, 'success');
    assert.equal(success.exchangeToken, intent.exchange_token);
    assert.equal(success.link.institution.id, 'cl_banco_sandbox');
    assert.equal(await frame.getByRole('heading', { name: words.linked }).isVisible(), true);
    assert.equal(await widgetVisible(page), true);
    await frame.getByRole('button', { name: words.done }).click();
    await eventually(async () => !(await widgetVisible(page)), 'the widget to close');
    const entries = await log(page);
    assert.equal(successCount(entries), 1, 'onSuccess once');
    assert.equal(entries.filter((e) => e[0] === 'exit').length, 0, 'no onExit after success');
  });

  browserTest(`refresh in ${language} ${asked}: Done on the success screen fires onSuccess at once, then closes`, {}, async (page) => {
    const linkToken = await createMfaLink(main, 'jonsnow+mfa_sms+changes');
    const [intent, widgetToken] = await createMfaRefresh(main, linkToken);
    await openHost(page);
    const options = { publicKey: main.pk, widgetToken, product: 'refresh_intent' };
    if (language === 'en') options.language = 'en';
    const frame = await openWidget(page, options);
    const code = frame.getByLabel(words.smsCode, { exact: true });
    await code.waitFor();
    await assertOneLanguage(page, language);
    await code.fill('123456');
    await code.press('Enter');
    // Done before the screen's time is up: onSuccess at once, then the widget closes (no onExit).
    await frame.getByRole('heading', { name: words.refreshed }).waitFor();
    assert.equal(successCount(await log(page)), 0, 'the person sees the screen before onSuccess');
    await frame.getByRole('button', { name: words.done }).click();
    const [, success] = await waitForLog(page, 'success');
    assert.deepEqual(success, { refreshIntentId: intent.id, status: 'succeeded' });
    await eventually(async () => !(await widgetVisible(page)), 'the widget to close');
    assert.equal((await log(page)).filter((e) => e[0] === 'exit').length, 0, 'no onExit after success');
  });
}
