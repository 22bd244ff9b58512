// The widget's text table (widget/frame/text.js): both languages have the same entries, and
// every entry the page and the modules name exists. No browser needed:
// `node --test tests/browser/text.test.mjs` runs it on its own.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';

const widget = new URL('../../widget/', import.meta.url);
const read = (name) => fs.readFileSync(new URL(name, widget), 'utf8');
// An ES module outside any package: imported from its source.
const { LANGUAGES, TEXTS, maskedPhone, setLanguage, t } =
  await import(`data:text/javascript;base64,${Buffer.from(read('frame/text.js')).toString('base64')}`);

test('Spanish and English have the same entries, of the same kinds', () => {
  assert.deepEqual(LANGUAGES, ['es', 'en']);
  const es = TEXTS.es;
  const en = TEXTS.en;
  assert.deepEqual(Object.keys(es).sort(), Object.keys(en).sort());
  for (const key of Object.keys(es)) {
    assert.equal(typeof es[key], typeof en[key], `${key} is a string or a function in both`);
    if (typeof es[key] === 'function') assert.equal(es[key].length, en[key].length, `${key} takes the same values`);
    else assert.ok(es[key] && en[key], `${key} is not empty`);
  }
});

test('every entry named by the page and by the modules exists', () => {
  const html = read('frame.html');
  const named = [...html.matchAll(/data-(?:text|label)="([^"]+)"/g)].map((m) => m[1]);
  assert.ok(named.length > 10, 'the page names its labels');
  const modules = ['frame.js', ...fs.readdirSync(new URL('frame/', widget)).map((f) => `frame/${f}`)];
  for (const name of modules) {
    const source = read(name);
    named.push(...[...source.matchAll(/\bt\('([A-Za-z]+)'/g)].map((m) => m[1]));
    // The FATAL table names a title and a text per error.
    if (name === 'frame/api.js') named.push(...[...source.matchAll(/\['([A-Za-z]+)', '([A-Za-z]+)'\]/g)].flatMap((m) => [m[1], m[2]]));
  }
  for (const key of new Set(named)) assert.ok(key in TEXTS.es, `${key} is in the table`);
});

test('a language is chosen once, Spanish unless English is asked for', () => {
  assert.equal(setLanguage(''), 'es');
  assert.equal(t('connect'), 'Conectar');
  assert.equal(setLanguage('fr'), 'es');
  assert.equal(setLanguage('en'), 'en');
  assert.equal(t('attemptsLeft', 1), ' 1 attempt left.');
  assert.equal(setLanguage('es'), 'es');
  assert.equal(t('attemptsLeft', 2), ' Te quedan 2 intentos.');
});

test("of a bank's hint, only the masked phone number is kept", () => {
  assert.equal(maskedPhone('Enviamos un código por SMS al +56 9 **** 1234'), '+56 9 **** 1234');
  assert.equal(maskedPhone('Enviamos un código por SMS al +52 55 **** 0042'), '+52 55 **** 0042');
  assert.equal(maskedPhone('Ingresa la clave que muestra tu token digital'), '');
  assert.equal(maskedPhone(null), '');
});
