/*
 * The hosted widget (inside the iframe that /widget/v1.js opens).
 *
 * Two flows, chosen by the product and the token:
 *   - movements (link intent, li_…): choose a bank, log in, answer a second factor if the bank
 *     asks, then onSuccess with the exchange token;
 *   - refresh_intent (ri_…): wait for the bank's challenge, answer it (SMS code, device code or
 *     approval in the bank's app), then follow the refresh to its end.
 *
 * Rules kept throughout: data from the server or the bank is only ever put on the page as text
 * (textContent), never as HTML; every step moves the focus to its first field or heading;
 * progress goes to a polite live region and errors to an alert region.
 */
(function () {
  'use strict';

  function $(id) {
    return document.getElementById(id);
  }

  // --- Talking to the page that opened us -------------------------------------------------

  var params = new URLSearchParams(location.hash.slice(1));
  var channel = params.get('channel') || '';
  var hostOrigin = params.get('origin') || '';
  var ancestors = location.ancestorOrigins;
  // The origin the embed script claims must be our real parent's, where the browser says.
  var trusted = window.parent !== window && /^[0-9a-f]{32}$/.test(channel) &&
    /^https?:\/\/[^/]+$/.test(hostOrigin) &&
    (!ancestors || ancestors.length === 0 || ancestors[0] === hostOrigin);

  function send(type, extra) {
    if (!trusted) return;
    var message = { type: 'refresco:' + type, channel: channel };
    Object.keys(extra || {}).forEach(function (k) { message[k] = extra[k]; });
    window.parent.postMessage(message, hostOrigin);
  }

  // Steps reached before the first open() (the widget loads while hidden) are told after
  // `opened`, in order, with the time they happened.
  var opened = false;
  var early = [];

  function emit(name) {
    var event = { name: name, metadata: { timestamp: Date.now() } };
    if (opened) send('event', event);
    else early.push(event);
  }

  function open() {
    var first = !opened;
    opened = true;
    send('event', { name: 'opened', metadata: { timestamp: Date.now() } });
    if (first) early.splice(0).forEach(function (event) { send('event', event); });
  }

  // --- Page state -------------------------------------------------------------------------

  var STEPS = ['loading', 'institutions', 'login', 'code', 'app', 'working', 'done', 'failed'];
  var config = null;
  var mode = 'test';
  var succeeded = false;
  var failure = null;
  var chosen = null;
  var timers = {};

  function show(step, focusId) {
    STEPS.forEach(function (name) {
      $('step-' + name).hidden = name !== step;
    });
    var target = $(focusId);
    if (target) target.focus();
  }

  function setStatus(text) {
    $('status').textContent = text || '';
  }

  function setError(text, field) {
    var box = $('error');
    box.textContent = text || '';
    box.hidden = !text;
    ['username', 'password', 'code'].forEach(function (id) {
      $(id).removeAttribute('aria-invalid');
    });
    if (text && field) {
      $(field).setAttribute('aria-invalid', 'true');
      $(field).focus();
    }
  }

  function setBusy(busy) {
    $('dialog').setAttribute('aria-busy', busy ? 'true' : 'false');
    ['login-submit', 'code-submit', 'approved', 'back'].forEach(function (id) {
      $(id).disabled = busy;
    });
  }

  function later(name, fn, ms) {
    clearTimeout(timers[name]);
    timers[name] = setTimeout(fn, ms);
  }

  function fail(title, text, error) {
    failure = error || { code: 'failed', message: text };
    Object.keys(timers).forEach(function (name) { clearTimeout(timers[name]); });
    setBusy(false);
    setError('');
    setStatus('');
    $('failed-title').textContent = title;
    $('failed-text').textContent = text;
    show('failed', 'failed-title');
  }

  function close() {
    send('close', {
      payload: succeeded ? { reason: 'done' }
        : failure ? { reason: 'error', error: failure } : { reason: 'closed' }
    });
  }

  // --- The API ----------------------------------------------------------------------------

  function api(method, path, body) {
    var init = {
      method: method,
      headers: { Authorization: config.publicKey, Accept: 'application/json' },
      cache: 'no-store',
      credentials: 'omit'
    };
    if (body) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    return fetch(path, init).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (json) {
        if (response.ok) return json;
        var error = json && json.error ? json.error
          : { code: 'http_' + response.status, message: 'The server answered ' + response.status + '.' };
        throw { api: error };
      });
    }, function () {
      throw { network: true };
    });
  }

  function left(n, what) {
    if (typeof n !== 'number') return '';
    return ' ' + n + ' ' + what + (n === 1 ? '' : 's') + ' left.';
  }

  // Errors a person can act on, in their words; anything else shows the server's message.
  function explain(err) {
    if (err.network) return 'We could not reach the server. Check your connection and try again.';
    var e = err.api || {};
    switch (e.code) {
      case 'institution_credentials_invalid':
        return 'Your bank did not accept that username or password. Check them and try again.' +
          left(e.login_attempts_left, 'attempt');
      case 'locked_credentials':
        return 'Your bank has locked these credentials. Unlock them with your bank, then try again.' +
          left(e.login_attempts_left, 'attempt');
      case 'unavailable_institution':
        return 'Your bank is not answering right now. Please try again in a few minutes.';
      case 'support_required':
        return 'Your bank answered in an unexpected way. Try again later; if it keeps happening, contact support.';
      case 'invalid_mfa_code':
        return e.attempts_left === 0
          ? 'That code is not right, and no attempts are left.'
          : 'That code is not right. Check it and try again.' + left(e.attempts_left, 'attempt');
      default:
        return e.message || 'Something went wrong. Please try again.';
    }
  }

  // Errors after which this widget cannot go on: the person must close it.
  var FATAL = {
    invalid_widget_token: ['This widget could not be opened',
      'Its link is not valid for this site (wrong token or key). Close it and try again.'],
    invalid_api_key: ['This widget could not be opened',
      'It was given a key that is not a valid public key. Close it and try again.'],
    link_intent_expired: ['This request expired',
      'It was not finished in time. Close this window and start again.'],
    link_intent_finished: ['Already connected',
      'This connection was already completed; it cannot be used again. Close this window.'],
    link_intent_failed: ['Too many attempts',
      'Your bank refused too many logins. Close this window and start again later.'],
    refresh_intent_finished: ['This request is over',
      'It expired or was already answered. Close this window and ask for a new update.'],
    mfa_expired: ['The code expired',
      'It was not entered in time. Close this window and ask for a new update.']
  };

  function fatal(err) {
    var known = err.api && FATAL[err.api.code];
    if (known) return fail(known[0], known[1], err.api);
    fail('Something went wrong', explain(err), err.api || { code: 'network_error' });
    return undefined;
  }

  // --- Movements: connect a bank through a link intent ------------------------------------

  var link = {
    shown: null,

    base: function () {
      return '/v1/widget/link_intents/' + encodeURIComponent(config.widgetToken);
    },

    start: function () {
      api('GET', link.base()).then(function (view) {
        config.country = view.country;
        config.holderType = view.holder_type;
        if (view.mfa) {
          chosen = view.mfa.institution;
          link.askMfa(view.mfa);
        } else {
          link.institutions();
        }
      }, fatal);
    },

    institutions: function () {
      setError('');
      setStatus('');
      show('institutions', 'search');
      emit('on_available_institutions');
      link.search();
    },

    search: function () {
      var q = $('search').value.trim();
      api('GET', link.base() + '/institutions?q=' + encodeURIComponent(q)).then(function (list) {
        var shown = list.map(function (institution) { return institution.id; }).join(' ');
        setStatus(list.length === 1 ? '1 bank found.' : list.length + ' banks found.');
        // The same banks again: keep the buttons, so the focus (and a screen reader's place)
        // stays where it is.
        if (shown === link.shown) return;
        link.shown = shown;
        var ul = $('institutions');
        ul.replaceChildren();
        list.forEach(function (institution) {
          var button = document.createElement('button');
          button.type = 'button';
          button.className = 'institution';
          button.textContent = institution.name;
          button.addEventListener('click', function () {
            chosen = institution;
            link.login();
          });
          var li = document.createElement('li');
          li.appendChild(button);
          ul.appendChild(li);
        });
        $('no-institutions').hidden = list.length > 0;
      }, fatal);
    },

    login: function () {
      setError('');
      setStatus('');
      var mx = config.country === 'mx';
      var business = config.holderType === 'business';
      $('login-bank').textContent = chosen.name;
      $('username-label').textContent = (business ? 'Company ' : '') + (mx ? 'RFC' : 'RUT');
      var example = mx ? (business ? 'SAN990401XY9' : 'SAND800101AB1')
        : (business ? '76.000.006-K' : '41614850-3');
      $('username-help').textContent = mode === 'test'
        ? 'Test mode: try ' + example + ' with the password jonsnow.' : '';
      $('password').value = '';
      show('login', 'username');
      emit('on_authentication_form');
    },

    submit: function () {
      var username = $('username').value.trim();
      var password = $('password').value;
      if (!username) return setError('Enter your ' + $('username-label').textContent + '.', 'username');
      if (!password) return setError('Enter your password.', 'password');
      setError('');
      setBusy(true);
      setStatus('Connecting to ' + chosen.name + '…');
      emit('creating_link');
      api('POST', link.base() + '/credentials',
        { institution_id: chosen.id, username: username, password: password })
        .then(link.answered, function (err) {
          setBusy(false);
          setStatus('');
          $('password').value = '';
          var code = err.api && err.api.code;
          if (FATAL[code]) return fatal(err);
          setError(explain(err), code === 'locked_credentials' ? 'username' : 'password');
        });
    },

    askMfa: function (mfa) {
      setError('');
      setStatus('');
      askSecondFactor(mfa.method, mfa.hint, mfa.institution.name);
    },

    answer: function (body) {
      setBusy(true);
      setStatus('Checking…');
      api('POST', link.base() + '/mfa', body).then(link.answered, function (err) {
        setBusy(false);
        setStatus('');
        var e = err.api || {};
        if (e.code === 'invalid_mfa_code' && e.attempts_left === 0 ||
          e.code === 'mfa_expired' || e.code === 'mfa_not_requested') {
          // The bank's challenge is gone: log in again.
          link.login();
          return setError(e.code === 'invalid_mfa_code'
            ? 'That code is not right, and no attempts are left. Log in again to get a new code.'
            : 'The code expired. Log in again to get a new one.', 'password');
        }
        if (FATAL[e.code]) return fatal(err);
        $('code').value = '';
        setError(explain(err), $('step-code').hidden ? null : 'code');
      });
    },

    answered: function (view) {
      setBusy(false);
      setError('');
      if (view.status === 'succeeded') return link.connected(view);
      if (view.mfa) return link.askMfa(view.mfa);
      fail('Something went wrong', 'The bank did not finish the login. Please try again.');
    },

    connected: function (view) {
      succeeded = true;
      emit('link_created');
      $('done-title').textContent = 'Your bank is connected';
      var holder = view.link.holder_name ? view.link.holder_name + ' at ' : '';
      $('done-text').textContent = holder + view.link.institution.name + '.';
      var ul = $('accounts');
      ul.replaceChildren();
      view.link.accounts.forEach(function (account) {
        var li = document.createElement('li');
        var name = document.createElement('span');
        name.textContent = account.name;
        var number = document.createElement('span');
        number.className = 'number';
        number.textContent = account.number;
        li.append(name, ' ', number);
        ul.appendChild(li);
      });
      setStatus('Connected.');
      show('done', 'done-title');
      send('success', {
        payload: {
          exchangeToken: view.exchange_token,
          linkIntentId: view.id,
          link: {
            id: view.link.id,
            institution: view.link.institution,
            holderName: view.link.holder_name,
            accounts: view.link.accounts
          }
        }
      });
    }
  };

  // --- Refresh intents: only the second factor --------------------------------------------

  var refresh = {
    asked: false,
    answered: false,
    bank: 'your bank',

    base: function () {
      return '/v1/widget/refresh_intents/' + encodeURIComponent(config.widgetToken);
    },

    poll: function () {
      api('GET', refresh.base()).then(function (view) {
        refresh.bank = view.institution_name || refresh.bank;
        if (view.status !== 'created') return refresh.ended(view);
        if (view.mfa_status === 'awaiting_answer' && !refresh.answered) {
          if (!refresh.asked) {
            refresh.asked = true;
            askSecondFactor(view.mfa_method, null, refresh.bank);
          }
          return undefined;
        }
        if (view.mfa_status === 'answered') {
          working('Updating your movements', 'Your code was accepted. ' + refresh.bank +
            ' is sending your latest movements…');
        } else {
          working('Connecting to your bank', 'Waiting for ' + refresh.bank + '…');
        }
        later('poll', refresh.poll, 700);
        return undefined;
      }, fatal);
    },

    answer: function (body) {
      setBusy(true);
      setStatus('Checking…');
      api('POST', refresh.base() + '/mfa', body).then(function () {
        setBusy(false);
        refresh.answered = true;
        setError('');
        refresh.poll();
      }, function (err) {
        setBusy(false);
        setStatus('');
        var e = err.api || {};
        if (e.code === 'mfa_not_requested_yet') return later('poll', refresh.poll, 700);
        if (e.code === 'invalid_mfa_code' && e.attempts_left === 0) {
          return fail('Too many wrong codes',
            'Your bank needs a new request. Close this window and ask for a new update.', e);
        }
        if (FATAL[e.code]) return fatal(err);
        $('code').value = '';
        setError(explain(err), $('step-code').hidden ? null : 'code');
        return undefined;
      });
    },

    ended: function (view) {
      if (!refresh.answered) {
        return fail('This request is over',
          'It expired or was already answered. Close this window and ask for a new update.',
          { code: 'refresh_intent_finished', message: 'The refresh intent is ' + view.status + '.' });
      }
      if (view.status !== 'succeeded') {
        return fail('The update did not finish',
          refresh.bank + ' could not send your movements this time. Close this window and try again later.',
          { code: 'refresh_intent_' + view.status, message: 'The refresh intent is ' + view.status + '.' });
      }
      succeeded = true;
      $('done-title').textContent = 'Your movements are up to date';
      $('done-text').textContent = refresh.bank + ' sent your latest movements.';
      $('accounts').replaceChildren();
      setStatus('Done.');
      show('done', 'done-title');
      send('success', { payload: { refreshIntentId: view.id, status: view.status } });
      return undefined;
    }
  };

  // --- Shared steps -----------------------------------------------------------------------

  function working(title, text) {
    $('working-title').textContent = title;
    $('working-text').textContent = text;
    setStatus(text);
    if ($('step-working').hidden) show('working', 'working-title');
  }

  var flow = null;

  function askSecondFactor(method, hint, bank) {
    emit(method + '_authentication_required');
    var test = mode === 'test' ? ' (Test mode: the code is 123456.)' : '';
    if (method === 'app') {
      $('app-prompt').textContent = 'Open ' + bank + "'s app on your phone and approve the login. " +
        'Then press "I approved it".';
      setStatus('Waiting for your approval in ' + bank + "'s app.");
      show('app', 'app-title');
      return;
    }
    var sms = method === 'sms';
    $('code-title').textContent = sms ? 'Enter the SMS code' : 'Enter your token code';
    $('code-label').textContent = sms ? 'SMS code' : 'Token code';
    $('code-prompt').textContent = (hint ? hint + '. ' : '') +
      (sms ? bank + ' sent you a code by SMS.' : 'Enter the code your ' + bank + ' token shows.') + test;
    $('code').value = '';
    setStatus('');
    show('code', 'code');
  }

  // --- Wiring -----------------------------------------------------------------------------

  $('close').addEventListener('click', close);
  $('done').addEventListener('click', close);
  $('failed-close').addEventListener('click', close);
  $('back').addEventListener('click', function () { link.institutions(); });
  $('search').addEventListener('input', function () { later('search', link.search, 150); });
  $('step-login').addEventListener('submit', function (event) {
    event.preventDefault();
    link.submit();
  });
  $('step-code').addEventListener('submit', function (event) {
    event.preventDefault();
    var code = $('code').value.trim();
    if (!code) return setError('Enter the code.', 'code');
    flow.answer({ code: code });
    return undefined;
  });
  $('approved').addEventListener('click', function () { flow.answer({ approved: true }); });

  document.addEventListener('keydown', function (event) {
    if (event.key === 'Escape') {
      event.preventDefault();
      close();
      return;
    }
    if (event.key !== 'Tab') return;
    // Keep the keyboard inside the dialog.
    var focusable = Array.prototype.filter.call(
      $('dialog').querySelectorAll('button, input'),
      function (el) { return !el.disabled && el.offsetParent !== null && el.tabIndex >= 0; });
    if (focusable.length === 0) return;
    var first = focusable[0];
    var last = focusable[focusable.length - 1];
    if (event.shiftKey && document.activeElement === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  });

  function text(value) {
    return typeof value === 'string' ? value : '';
  }

  function begin(received) {
    config = {
      publicKey: text(received.publicKey),
      widgetToken: text(received.widgetToken),
      product: text(received.product),
      holderType: text(received.holderType) || 'individual',
      country: text(received.country)
    };
    mode = config.publicKey.indexOf('pk_live_') === 0 ? 'live' : 'test';
    if (config.product === 'refresh_intent') {
      $('title').textContent = 'Confirm it is you';
      flow = refresh;
      refresh.poll();
    } else {
      flow = link;
      link.start();
    }
  }

  window.addEventListener('message', function (event) {
    if (!trusted || event.source !== window.parent || event.origin !== hostOrigin) return;
    var data = event.data;
    if (!data || typeof data !== 'object' || data.channel !== channel) return;
    if (data.type === 'refresco:init' && !config && data.config && typeof data.config === 'object') {
      begin(data.config);
    } else if (data.type === 'refresco:open') {
      open();
      var heading = document.querySelector('.step:not([hidden]) h2');
      var field = document.querySelector('.step:not([hidden]) input');
      (field || heading || $('title')).focus();
    }
  });

  if (!trusted) {
    fail('This page cannot be opened directly',
      'It is the Refresco widget: open it with Fintoc.create(…) from the widget script.');
  } else {
    send('ready');
  }
})();
