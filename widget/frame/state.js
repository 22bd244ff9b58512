// What the widget knows, shared by its screens. The host page's options arrive once, by
// postMessage (frame.js); the rest changes as the person goes through the steps.

export const state = {
  // {publicKey, widgetToken, product, holderType, country, language}; null until the host's init.
  config: null,
  // 'test' or 'live', from the public key: test mode shows the sandbox's credentials.
  mode: 'test',
  // How the widget ended, for the close message: success, or the error that stopped it.
  succeeded: false,
  // The onSuccess payload while the success screen holds it (done.js).
  pendingSuccess: null,
  failure: null,
  // The bank the person chose (or the one asking for a second factor).
  chosen: null,
  // Reconnecting a link: {username} of the link (its bank is `chosen`); null when creating one.
  reconnect: null,
};
