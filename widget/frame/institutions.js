// The bank picker (movements): a search box and one button per bank of the intent's country.

import { api, linkIntentPath } from './api.js';
import { $, cancel, later, setError, setStatus, show } from './dom.js';
import { fatal } from './failed.js';
import { emit } from './host.js';
import { t } from './text.js';

// The ids of the banks listed now, and what choosing one does (given by link.js).
let listed = null;
let choose = () => {};

export function showInstitutions(onChoose) {
  choose = onChoose;
  setError('');
  setStatus('');
  show('institutions', 'search');
  emit('on_available_institutions');
  search();
}

// Whether the picker is the step showing: a search answered after the person chose a bank is
// stale (by then the login may even have connected the bank, and the intent answers 422).
function picking() {
  return !$('step-institutions').hidden;
}

function search() {
  const q = $('search').value.trim();
  api('GET', linkIntentPath('/institutions?q=' + encodeURIComponent(q))).then((list) => {
    if (!picking()) return;
    const ids = list.map((institution) => institution.id).join(' ');
    setStatus(t('banksFound', list.length));
    // The same banks again: keep the buttons, so the focus (and a screen reader's place)
    // stays where it is.
    if (ids === listed) return;
    listed = ids;
    const ul = $('institutions');
    ul.replaceChildren();
    list.forEach((institution) => {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'institution';
      button.textContent = institution.name;
      button.addEventListener('click', () => {
        // A search still due would answer a picker the person has left.
        cancel('search');
        choose(institution);
      });
      const li = document.createElement('li');
      li.appendChild(button);
      ul.appendChild(li);
    });
    $('no-institutions').hidden = list.length > 0;
  }, (err) => {
    if (picking()) fatal(err);
  });
}

// Typing waits for a short pause before asking the server.
$('search').addEventListener('input', () => later('search', search, 150));
