/*
 * Refresco widget: a drop-in for Fintoc's widget script.
 *
 *   <script src="http://127.0.0.1:8080/widget/v1.js"></script>   (also served at /js/v1)
 *   const widget = Fintoc.create({ publicKey, widgetToken, holderType, product, country,
 *                                  language, onSuccess, onExit, onEvent });
 *   widget.open();   widget.hide();   widget.destroy();
 *
 * The widget itself runs in an iframe served by the same Refresco server as this script. The
 * two talk only by postMessage, and each side checks who is talking:
 *   - this script accepts a message only from that iframe's window, from the Refresco origin,
 *     carrying this widget's random channel id, and sends only to the Refresco origin;
 *   - the iframe accepts messages only from its parent window, from the origin this script
 *     named in the iframe's URL (checked against the browser's own record of the parent), and
 *     sends only to that origin.
 * The public key and the widget token travel by postMessage, never in a URL. A secret key is
 * refused before anything is sent anywhere. See docs/widget.md.
 */
(function () {
  'use strict';

  var script = document.currentScript;
  var WIDGET_ORIGIN = new URL(script && script.src ? script.src : '/', location.href).origin;
  var PRODUCTS = { movements: 'li_', refresh_intent: 'ri_' };
  var HOLDER_TYPES = { individual: true, business: true };
  // The widget speaks one language per session: Spanish unless English is asked for.
  var LANGUAGES = { es: 'Conecta tu banco (Refresco)', en: 'Connect your bank (Refresco)' };
  // Its height follows its content (the frame says how tall it is), within these bounds.
  var MIN_HEIGHT = 240;
  var MAX_HEIGHT = 720;

  function channelId() {
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map
      .call(bytes, function (b) { return ('0' + b.toString(16)).slice(-2); })
      .join('');
  }

  function fail(message) {
    throw new Error('Refresco widget: ' + message);
  }

  function callback(fn) {
    return typeof fn === 'function' ? fn : function () {};
  }

  // A callback that throws must not break the widget (the integrator's bug, not ours).
  function safely(fn, args) {
    try {
      fn.apply(null, args);
    } catch (error) {
      setTimeout(function () { throw error; });
    }
  }

  function checkOptions(options) {
    var publicKey = typeof options.publicKey === 'string' ? options.publicKey.trim() : '';
    if (/^sk_/.test(publicKey)) {
      fail('publicKey is a secret key (sk_…). A secret key must never reach a browser: ' +
        'keep it on your server and give the widget your public key (pk_…).');
    }
    if (!/^pk_(test|live)_[A-Za-z0-9]+$/.test(publicKey)) {
      fail('publicKey must be a public key (pk_test_… or pk_live_…).');
    }
    var product = options.product === undefined ? 'movements' : options.product;
    if (!Object.prototype.hasOwnProperty.call(PRODUCTS, product)) {
      fail('product must be "movements" or "refresh_intent".');
    }
    var widgetToken = typeof options.widgetToken === 'string' ? options.widgetToken.trim() : '';
    if (widgetToken.indexOf(PRODUCTS[product]) !== 0) {
      fail('widgetToken must be the ' + (product === 'movements'
        ? "link intent's widget_token (li_…)"
        : "refresh intent's requires_mfa.widget_token (ri_…)") + '.');
    }
    var holderType = options.holderType === undefined ? 'individual' : options.holderType;
    if (!HOLDER_TYPES[holderType]) fail('holderType must be "individual" or "business".');
    var language = options.language === undefined ? 'es' : String(options.language).toLowerCase();
    if (!Object.prototype.hasOwnProperty.call(LANGUAGES, language)) {
      fail('language must be "es" (the default) or "en".');
    }
    return {
      publicKey: publicKey,
      widgetToken: widgetToken,
      product: product,
      holderType: holderType,
      country: typeof options.country === 'string' ? options.country.toLowerCase() : null,
      language: language
    };
  }

  function create(options) {
    options = options || {};
    var config = checkOptions(options);
    var onSuccess = callback(options.onSuccess);
    var onExit = callback(options.onExit);
    var onEvent = callback(options.onEvent);
    var channel = channelId();
    var ready = false;
    var visible = false;
    var destroyed = false;
    var succeeded = false;
    var opener = null;
    var inerted = [];
    var savedOverflow = '';

    var overlay = document.createElement('div');
    overlay.setAttribute('data-refresco-widget', '');
    var s = overlay.style;
    s.position = 'fixed';
    s.top = s.right = s.bottom = s.left = '0';
    s.zIndex = '2147483647';
    s.display = 'none';
    s.alignItems = 'center';
    s.justifyContent = 'center';
    s.background = 'rgba(15, 23, 42, 0.55)';

    var frame = document.createElement('iframe');
    frame.setAttribute('data-refresco-frame', '');
    frame.title = LANGUAGES[config.language];
    // Only ids and origins in the URL: nothing secret ends up in logs or history.
    frame.src = WIDGET_ORIGIN + '/widget#channel=' + channel +
      '&origin=' + encodeURIComponent(location.origin);
    var f = frame.style;
    f.border = '0';
    f.width = '420px';
    var contentHeight = 480;
    f.height = contentHeight + 'px';
    f.maxWidth = '100vw';
    f.maxHeight = '100vh';
    f.borderRadius = '12px';
    f.background = '#ffffff';
    f.boxShadow = '0 20px 60px rgba(0, 0, 0, 0.35)';
    overlay.appendChild(frame);
    (document.body || document.documentElement).appendChild(overlay);

    // On a phone the widget takes the whole screen; elsewhere it is as tall as its content.
    function phone() {
      return window.matchMedia('(max-width: 480px)').matches;
    }

    function fitHeight() {
      f.height = phone() ? '100vh'
        : Math.max(MIN_HEIGHT, Math.min(MAX_HEIGHT, contentHeight)) + 'px';
    }

    function post(message) {
      if (!frame.contentWindow) return;
      message.channel = channel;
      frame.contentWindow.postMessage(message, WIDGET_ORIGIN);
    }

    // While open, the rest of the page is inert: keyboard and screen-reader users stay in the
    // widget, as in any modal dialog.
    function setInert(on) {
      if (on) {
        inerted = Array.prototype.filter.call(document.body.children, function (el) {
          return el !== overlay && !el.inert;
        });
        inerted.forEach(function (el) { el.inert = true; });
        savedOverflow = document.documentElement.style.overflow;
        document.documentElement.style.overflow = 'hidden';
      } else {
        inerted.forEach(function (el) { el.inert = false; });
        inerted = [];
        document.documentElement.style.overflow = savedOverflow;
      }
    }

    function hide() {
      if (!visible) return;
      visible = false;
      overlay.style.display = 'none';
      setInert(false);
      if (opener && typeof opener.focus === 'function' && document.contains(opener)) {
        opener.focus();
      }
      opener = null;
    }

    function onMessage(event) {
      if (event.origin !== WIDGET_ORIGIN || event.source !== frame.contentWindow) return;
      var data = event.data;
      if (!data || typeof data !== 'object' || data.channel !== channel) return;
      switch (data.type) {
        case 'refresco:ready':
          ready = true;
          post({ type: 'refresco:init', config: config });
          if (visible) post({ type: 'refresco:open' });
          break;
        case 'refresco:event':
          var metadata = data.metadata && typeof data.metadata === 'object' ? data.metadata : {};
          if (typeof metadata.timestamp !== 'number') metadata.timestamp = Date.now();
          safely(onEvent, [String(data.name), metadata]);
          break;
        case 'refresco:success':
          succeeded = true;
          safely(onSuccess, [data.payload || {}]);
          break;
        case 'refresco:resize':
          if (typeof data.height === 'number' && isFinite(data.height)) {
            contentHeight = Math.ceil(data.height);
            fitHeight();
          }
          break;
        case 'refresco:close':
          hide();
          if (!succeeded) safely(onExit, [data.payload || { reason: 'closed' }]);
          break;
      }
    }
    window.addEventListener('message', onMessage);

    return {
      open: function () {
        if (destroyed) fail('this widget was destroyed; create a new one.');
        if (visible) return;
        visible = true;
        opener = document.activeElement;
        overlay.style.display = 'flex';
        // On a phone the widget takes the whole screen, without rounded corners.
        frame.style.borderRadius = phone() ? '0' : '12px';
        fitHeight();
        setInert(true);
        frame.focus();
        if (ready) post({ type: 'refresco:open' });
      },
      hide: hide,
      destroy: function () {
        if (destroyed) return;
        hide();
        destroyed = true;
        window.removeEventListener('message', onMessage);
        overlay.remove();
      }
    };
  }

  window.Fintoc = window.Fintoc || {};
  window.Fintoc.create = create;
  window.Refresco = window.Fintoc;
})();
