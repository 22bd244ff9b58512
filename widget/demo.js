/*
 * The demo page: it plays both sides of an integration. The "server" calls (secret key) are
 * made from this page with the test keys the person typed, kept in memory only; the "browser"
 * side opens the real widget with the public key. Every value from the server is shown as text
 * (textContent), never as HTML.
 */
(function () {
  'use strict';

  function $(id) {
    return document.getElementById(id);
  }

  var keys = null;
  var linkToken = null;
  var linkId = null;
  var holderType = 'individual';
  var seenMovements = null;
  var eventsTimer = null;

  // --- Output -----------------------------------------------------------------------------

  function say(id, text) {
    $(id).textContent = text;
  }

  function showError(text) {
    $('error').textContent = text || '';
    $('error').hidden = !text;
  }

  function item(listId, parts) {
    var li = document.createElement('li');
    parts.forEach(function (part, i) {
      if (i > 0) li.append(' ');
      if (typeof part === 'string') {
        li.append(part);
      } else {
        var code = document.createElement('code');
        code.textContent = part.code;
        li.append(code);
      }
    });
    $(listId).prepend(li);
  }

  // --- The API, with the secret key (what your server would do) ---------------------------

  function api(method, path, body) {
    var init = { method: method, headers: { Authorization: keys.secret, Accept: 'application/json' } };
    if (body) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    // The log shows the path without tokens: they are secrets too.
    var shown = path.replace(/(link_token|exchange_token)=[^&]*/g, '$1=…');
    return fetch(path, init).then(function (response) {
      item('calls', [{ code: method + ' ' + shown }, '→ ' + response.status]);
      return response.json().catch(function () { return null; }).then(function (json) {
        if (response.ok) return json;
        var error = json && json.error ? json.error : { code: 'http_' + response.status, message: 'HTTP ' + response.status };
        var failure = new Error(error.message || error.code);
        failure.api = error;
        failure.status = response.status;
        throw failure;
      });
    });
  }

  function report(error) {
    showError(error && error.message ? error.message : 'Something went wrong.');
  }

  // --- 1. Keys ----------------------------------------------------------------------------

  function useKeys(event) {
    event.preventDefault();
    showError('');
    var secret = $('secret-key').value.trim();
    var publicKey = $('public-key').value.trim();
    if (!/^sk_test_[A-Za-z0-9]+$/.test(secret) || !/^pk_test_[A-Za-z0-9]+$/.test(publicKey)) {
      say('keys-status', '');
      showError('The demo works with test keys only: a secret key sk_test_… and a public key ' +
        'pk_test_…. Never paste a live secret key into a web page.');
      return;
    }
    keys = { secret: secret, public: publicKey };
    api('GET', '/v1/links?per_page=1').then(function () {
      // The fields are cleared: the keys live in one variable of this page from now on.
      $('secret-key').value = '';
      $('public-key').value = '';
      say('keys-status', 'Keys accepted. They are kept in this page only until you reload it.');
      $('connect').disabled = false;
      $('use-link').disabled = false;
    }, function (error) {
      keys = null;
      say('keys-status', '');
      showError('The server did not accept the secret key (' + error.message + ').');
    });
  }

  // --- 2. Connect -------------------------------------------------------------------------

  function widgetEvent(name, metadata) {
    var at = new Date(metadata && metadata.timestamp ? metadata.timestamp : Date.now());
    item('widget-events', [{ code: name }, at.toLocaleTimeString()]);
  }

  function connect() {
    showError('');
    holderType = $('holder-type').value;
    var body = { product: 'movements', country: $('country').value, holder_type: holderType };
    api('POST', '/v1/link_intents', body).then(function (intent) {
      say('link-status', 'Link intent ' + intent.id + ' created; the widget is open.');
      var widget = Fintoc.create({
        publicKey: keys.public,
        widgetToken: intent.widget_token,
        product: 'movements',
        holderType: holderType,
        country: intent.country,
        language: $('language').value,
        onEvent: widgetEvent,
        onExit: function (info) {
          say('link-status', 'The widget was closed' +
            (info && info.error ? ': ' + info.error.message : ' before the bank was connected.'));
          widget.destroy();
        },
        // The widget showed its success screen before calling this; now it can go.
        onSuccess: function (result) {
          widget.destroy();
          say('link-status', 'The widget connected the bank; exchanging the token…');
          // Your server does this with the exchange token the widget returned.
          api('GET', '/v1/links/exchange?exchange_token=' + encodeURIComponent(result.exchangeToken))
            .then(function (link) { haveLink(link.link_token, link); }, report);
        }
      });
      widget.open();
    }, report);
  }

  function useLink() {
    showError('');
    var token = $('link-token').value.trim();
    if (!token) return showError('Paste a link token first.');
    api('GET', '/v1/links/' + encodeURIComponent(token)).then(function (link) {
      $('link-token').value = '';
      haveLink(token, link);
    }, report);
    return undefined;
  }

  function haveLink(token, link) {
    linkToken = token;
    linkId = link.id;
    holderType = link.holder_type;
    seenMovements = null;
    say('link-status', 'Connected: ' + link.institution.name + ' (' + link.id + '). Its link ' +
      'token is kept in this page only.');
    $('refresh').disabled = false;
    loadMovements(null);
    pollEvents();
  }

  // --- 3. Refresh -------------------------------------------------------------------------

  function refresh() {
    showError('');
    $('refresh').disabled = true;
    api('POST', '/v1/refresh_intents', { link_token: linkToken }).then(function (intent) {
      if (intent.requires_mfa && intent.requires_mfa.widget_token) {
        say('refresh-status', 'The bank wants a second factor: answer it in the widget.');
        var widget = Fintoc.create({
          publicKey: keys.public,
          widgetToken: intent.requires_mfa.widget_token,
          product: 'refresh_intent',
          holderType: holderType,
          language: $('language').value,
          onEvent: widgetEvent,
          onExit: function () { widget.destroy(); },
          onSuccess: function () { widget.destroy(); }
        });
        widget.open();
      } else {
        say('refresh-status', 'Refreshing…');
      }
      follow(intent.id);
    }, function (error) {
      $('refresh').disabled = false;
      report(error);
    });
  }

  function follow(id) {
    api('GET', '/v1/refresh_intents/' + encodeURIComponent(id) + '?link_token=' +
      encodeURIComponent(linkToken)).then(function (intent) {
      if (intent.status === 'created') {
        if (!intent.requires_mfa) say('refresh-status', 'Refreshing…');
        setTimeout(function () { follow(id); }, 1000);
        return;
      }
      $('refresh').disabled = false;
      say('refresh-status', 'The refresh ' + intent.status + ' with ' + intent.new_movements +
        ' new movement(s)' + (intent.public_error ? ' (' + intent.public_error + ')' : '') + '.');
      loadMovements(intent.new_movements);
    }, function (error) {
      $('refresh').disabled = false;
      report(error);
    });
  }

  // --- 4. Movements -----------------------------------------------------------------------

  function money(amount, currency) {
    var digits = currency === 'CLP' ? 0 : 2;
    var value = amount / Math.pow(10, digits);
    try {
      return new Intl.NumberFormat(undefined, { style: 'currency', currency: currency }).format(value);
    } catch (e) {
      return value.toFixed(digits) + ' ' + currency;
    }
  }

  function cell(row, text, className) {
    var td = document.createElement('td');
    td.textContent = text;
    if (className) td.className = className;
    row.appendChild(td);
    return td;
  }

  function loadMovements(expectedNew) {
    var token = encodeURIComponent(linkToken);
    api('GET', '/v1/accounts?link_token=' + token).then(function (accounts) {
      return Promise.all(accounts.map(function (account) {
        return api('GET', '/v1/accounts/' + encodeURIComponent(account.id) +
          '/movements?link_token=' + token + '&confirmed_only=false&per_page=10')
          .then(function (movements) { return { account: account, movements: movements }; });
      }));
    }).then(function (list) {
      var container = $('accounts');
      container.replaceChildren();
      var first = seenMovements === null;
      var seen = seenMovements || {};
      var fresh = 0;
      list.forEach(function (entry) {
        var account = entry.account;
        var heading = document.createElement('h3');
        heading.textContent = account.name + ' ' + account.number + ' · ' +
          money(account.balance.available, account.currency);
        var table = document.createElement('table');
        table.className = 'movements';
        var caption = document.createElement('caption');
        caption.textContent = 'Latest movements of ' + account.name;
        table.appendChild(caption);
        entry.movements.forEach(function (movement) {
          var row = document.createElement('tr');
          var isNew = !first && !seen[movement.id];
          if (isNew) {
            fresh += 1;
            row.className = 'new';
          }
          cell(row, movement.post_date.slice(0, 10));
          cell(row, movement.description);
          cell(row, money(movement.amount, movement.currency), 'amount');
          cell(row, isNew ? 'new' : '', 'badge');
          seen[movement.id] = true;
          table.appendChild(row);
        });
        container.append(heading, table);
      });
      seenMovements = seen;
      say('movements-status', first
        ? 'The latest movements of each account. Refresh to see new ones arrive.'
        : fresh + ' new movement(s) on this page' +
          (expectedNew === null ? '.' : ' (the refresh reported ' + expectedNew + ').'));
    }).catch(report);
  }

  // --- Server events of this link: GET /v1/events?link_id=…, when this server has it -------

  function pollEvents() {
    clearTimeout(eventsTimer);
    if (!linkId) return;
    var shownLink = linkId;
    api('GET', '/v1/events?per_page=20&link_id=' + encodeURIComponent(linkId)).then(function (events) {
      if (!Array.isArray(events)) throw new Error('unexpected answer');
      // Another link was chosen meanwhile: its own poll shows its events.
      if (shownLink !== linkId) return;
      say('events-status', events.length
        ? 'The latest events of link ' + linkId + ', newest first.'
        : 'No events of link ' + linkId + ' yet.');
      var list = $('server-events');
      list.replaceChildren();
      events.slice().reverse().forEach(function (event) {
        item('server-events', [{ code: String(event.type) }, String(event.created_at), String(event.id)]);
      });
      eventsTimer = setTimeout(pollEvents, 3000);
    }, function (error) {
      if (error.status === 404) {
        say('events-status', 'This server does not offer GET /v1/events yet; the widget ' +
          'events above still show every step.');
        return;
      }
      say('events-status', 'Events could not be read (' + error.message + '); retrying.');
      eventsTimer = setTimeout(pollEvents, 5000);
    });
  }

  $('keys-form').addEventListener('submit', useKeys);
  $('connect').addEventListener('click', connect);
  $('use-link').addEventListener('click', useLink);
  $('refresh').addEventListener('click', refresh);
})();
