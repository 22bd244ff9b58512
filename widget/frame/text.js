// Every word the person sees in the widget, in each language it speaks: Spanish (the default,
// as Fintoc's widget) and English (the `language: 'en'` option of Fintoc.create). One language
// per session, chosen once from the host's options (frame.js); both tables have the same keys
// (a test checks it). An entry is a string, or a function of the values it names.
//
// Nothing written by the server in a language of its own is shown: API errors are told from
// their `code`, and of a bank's second-factor hint only the masked phone number is kept.
//
// The static labels of frame.html name their entry in `data-text` (textContent) or
// `data-label` (aria-label); `localize()` fills them in.

function plural(n, one, many) {
  return n === 1 ? one : many;
}

export const TEXTS = {
  es: {
    pageTitle: 'Conecta tu banco',
    title: 'Conecta tu banco',
    refreshTitle: 'Confirma que eres tú',
    close: 'Cerrar',
    frameTitle: 'Conecta tu banco (Refresco)',
    // institutions
    institutionsTitle: 'Elige tu banco',
    searchLabel: 'Busca tu banco',
    noInstitutions: 'Ningún banco coincide con tu búsqueda.',
    banksFound: (n) => plural(n, 'Se encontró 1 banco.', 'Se encontraron ' + n + ' bancos.'),
    // credentials
    loginTitle: 'Ingresa a tu banco',
    usernameLabel: (id, business) => (business ? id + ' de la empresa' : id),
    passwordLabel: 'Contraseña',
    testCredentials: (example, password) =>
      'Modo de prueba: usa ' + example + ' con la contraseña ' + password + '.',
    connect: 'Conectar',
    back: 'Elegir otro banco',
    enterUsername: (label) => 'Ingresa tu ' + label + '.',
    enterPassword: 'Ingresa tu contraseña.',
    connecting: (bank) => 'Conectando con ' + bank + '…',
    // reconnecting a link
    reconnectTitle: 'Reconecta tu banco',
    reconnectHelp: 'Tu banco ya no acepta la contraseña guardada. Ingresa la nueva.',
    testPassword: (password) => 'Modo de prueba: usa la contraseña ' + password + '.',
    reconnectedTitle: 'Tu banco está reconectado',
    reconnectedStatus: 'Reconectado.',
    // second factor
    codeTitle: 'Ingresa el código',
    codeLabel: 'Código',
    continue: 'Continuar',
    smsTitle: 'Ingresa el código SMS',
    smsLabel: 'Código SMS',
    tokenTitle: 'Ingresa el código de tu token',
    tokenLabel: 'Código del token',
    smsPrompt: (bank, phone) => bank + ' te envió un código por SMS' + (phone ? ' al ' + phone : '') + '.',
    tokenPrompt: (bank) => 'Ingresa el código que muestra tu token de ' + bank + '.',
    testCode: ' (Modo de prueba: el código es 123456.)',
    appTitle: 'Aprueba en la app de tu banco',
    appPrompt: (bank) => 'Abre la app de ' + bank + ' en tu teléfono y aprueba el ingreso. ' +
      'Luego presiona «Ya lo aprobé».',
    appWaiting: (bank) => 'Esperando tu aprobación en la app de ' + bank + '.',
    approved: 'Ya lo aprobé',
    enterCode: 'Ingresa el código.',
    checking: 'Verificando…',
    // refresh
    yourBank: 'tu banco',
    workingTitle: 'Un momento',
    updatingTitle: 'Actualizando tus movimientos',
    updatingText: (bank) => 'Tu código fue aceptado. ' + bank + ' está enviando tus últimos movimientos…',
    connectingTitle: 'Conectando con tu banco',
    waitingFor: (bank) => 'Esperando a ' + bank + '…',
    // done
    doneTitle: 'Listo',
    done: 'Listo',
    linkedTitle: 'Tu banco está conectado',
    linkedText: (holder, bank) => (holder ? holder + ' en ' : '') + bank + '.',
    linkedStatus: 'Conectado.',
    refreshedTitle: 'Tus movimientos están al día',
    refreshedText: (bank) => bank + ' envió tus últimos movimientos.',
    refreshedStatus: 'Listo.',
    // errors a person can act on
    network: 'No pudimos conectarnos al servidor. Revisa tu conexión e inténtalo de nuevo.',
    attemptsLeft: (n) => ' ' + plural(n, 'Te queda 1 intento.', 'Te quedan ' + n + ' intentos.'),
    credentialsInvalid: 'Tu banco no aceptó ese usuario o contraseña. Revísalos e inténtalo de nuevo.',
    credentialsLocked: 'Tu banco bloqueó estas credenciales. Desbloquéalas con tu banco y vuelve a intentarlo.',
    bankUnavailable: 'Tu banco no está respondiendo. Inténtalo de nuevo en unos minutos.',
    supportRequired: 'Tu banco respondió de una forma inesperada. Inténtalo más tarde; ' +
      'si sigue pasando, contacta a soporte.',
    codeWrong: 'Ese código no es correcto. Revísalo e inténtalo de nuevo.',
    codeWrongNoAttempts: 'Ese código no es correcto y no quedan intentos.',
    codeWrongLogInAgain: 'Ese código no es correcto y no quedan intentos. ' +
      'Vuelve a ingresar para recibir un código nuevo.',
    codeExpiredLogInAgain: 'El código expiró. Vuelve a ingresar para recibir uno nuevo.',
    somethingWrong: 'Algo salió mal',
    tryAgain: 'Algo salió mal. Inténtalo de nuevo.',
    loginUnfinished: 'El banco no terminó el ingreso. Inténtalo de nuevo.',
    // screens that end the widget
    failedTitle: 'No se puede continuar',
    notDirectTitle: 'Esta página no se puede abrir directamente',
    notDirectText: 'Es el widget de Refresco: ábrelo con Fintoc.create(…) desde el script del widget.',
    cannotOpenTitle: 'No se pudo abrir el widget',
    badTokenText: 'Su enlace no es válido para este sitio (token o llave incorrectos). Ciérralo e inténtalo de nuevo.',
    badKeyText: 'Recibió una llave que no es una llave pública válida. Ciérralo e inténtalo de nuevo.',
    expiredTitle: 'Esta solicitud expiró',
    expiredText: 'No se terminó a tiempo. Cierra esta ventana y vuelve a empezar.',
    finishedTitle: 'Ya está conectado',
    finishedText: 'Esta conexión ya se completó y no se puede volver a usar. Cierra esta ventana.',
    tooManyLoginsTitle: 'Demasiados intentos',
    tooManyLoginsText: 'Tu banco rechazó demasiados ingresos. Cierra esta ventana y vuelve a empezar más tarde.',
    requestOverTitle: 'Esta solicitud terminó',
    requestOverText: 'Expiró o ya fue respondida. Cierra esta ventana y pide una nueva actualización.',
    codeExpiredTitle: 'El código expiró',
    codeExpiredText: 'No se ingresó a tiempo. Cierra esta ventana y pide una nueva actualización.',
    tooManyCodesTitle: 'Demasiados códigos incorrectos',
    tooManyCodesText: 'Tu banco necesita una nueva solicitud. Cierra esta ventana y pide una nueva actualización.',
    notUpdatedTitle: 'La actualización no terminó',
    notUpdatedText: (bank) => bank + ' no pudo enviar tus movimientos esta vez. ' +
      'Cierra esta ventana e inténtalo más tarde.',
  },
  en: {
    pageTitle: 'Connect your bank',
    title: 'Connect your bank',
    refreshTitle: 'Confirm it is you',
    close: 'Close',
    frameTitle: 'Connect your bank (Refresco)',
    institutionsTitle: 'Choose your bank',
    searchLabel: 'Search your bank',
    noInstitutions: 'No bank matches your search.',
    banksFound: (n) => plural(n, '1 bank found.', n + ' banks found.'),
    loginTitle: 'Log in to your bank',
    usernameLabel: (id, business) => (business ? 'Company ' + id : id),
    passwordLabel: 'Password',
    testCredentials: (example, password) =>
      'Test mode: try ' + example + ' with the password ' + password + '.',
    connect: 'Connect',
    back: 'Choose another bank',
    enterUsername: (label) => 'Enter your ' + label + '.',
    enterPassword: 'Enter your password.',
    connecting: (bank) => 'Connecting to ' + bank + '…',
    reconnectTitle: 'Reconnect your bank',
    reconnectHelp: 'Your bank no longer accepts the saved password. Enter the new one.',
    testPassword: (password) => 'Test mode: try the password ' + password + '.',
    reconnectedTitle: 'Your bank is reconnected',
    reconnectedStatus: 'Reconnected.',
    codeTitle: 'Enter the code',
    codeLabel: 'Code',
    continue: 'Continue',
    smsTitle: 'Enter the SMS code',
    smsLabel: 'SMS code',
    tokenTitle: 'Enter your token code',
    tokenLabel: 'Token code',
    smsPrompt: (bank, phone) => bank + ' sent you a code by SMS' + (phone ? ' to ' + phone : '') + '.',
    tokenPrompt: (bank) => 'Enter the code your ' + bank + ' token shows.',
    testCode: ' (Test mode: the code is 123456.)',
    appTitle: "Approve in your bank's app",
    appPrompt: (bank) => 'Open ' + bank + "'s app on your phone and approve the login. " +
      'Then press "I approved it".',
    appWaiting: (bank) => 'Waiting for your approval in ' + bank + "'s app.",
    approved: 'I approved it',
    enterCode: 'Enter the code.',
    checking: 'Checking…',
    yourBank: 'your bank',
    workingTitle: 'One moment',
    updatingTitle: 'Updating your movements',
    updatingText: (bank) => 'Your code was accepted. ' + bank + ' is sending your latest movements…',
    connectingTitle: 'Connecting to your bank',
    waitingFor: (bank) => 'Waiting for ' + bank + '…',
    doneTitle: 'Done',
    done: 'Done',
    linkedTitle: 'Your bank is connected',
    linkedText: (holder, bank) => (holder ? holder + ' at ' : '') + bank + '.',
    linkedStatus: 'Connected.',
    refreshedTitle: 'Your movements are up to date',
    refreshedText: (bank) => bank + ' sent your latest movements.',
    refreshedStatus: 'Done.',
    network: 'We could not reach the server. Check your connection and try again.',
    attemptsLeft: (n) => ' ' + n + ' ' + plural(n, 'attempt', 'attempts') + ' left.',
    credentialsInvalid: 'Your bank did not accept that username or password. Check them and try again.',
    credentialsLocked: 'Your bank has locked these credentials. Unlock them with your bank, then try again.',
    bankUnavailable: 'Your bank is not answering right now. Please try again in a few minutes.',
    supportRequired: 'Your bank answered in an unexpected way. Try again later; ' +
      'if it keeps happening, contact support.',
    codeWrong: 'That code is not right. Check it and try again.',
    codeWrongNoAttempts: 'That code is not right, and no attempts are left.',
    codeWrongLogInAgain: 'That code is not right, and no attempts are left. Log in again to get a new code.',
    codeExpiredLogInAgain: 'The code expired. Log in again to get a new one.',
    somethingWrong: 'Something went wrong',
    tryAgain: 'Something went wrong. Please try again.',
    loginUnfinished: 'The bank did not finish the login. Please try again.',
    failedTitle: 'This cannot go on',
    notDirectTitle: 'This page cannot be opened directly',
    notDirectText: 'It is the Refresco widget: open it with Fintoc.create(…) from the widget script.',
    cannotOpenTitle: 'This widget could not be opened',
    badTokenText: 'Its link is not valid for this site (wrong token or key). Close it and try again.',
    badKeyText: 'It was given a key that is not a valid public key. Close it and try again.',
    expiredTitle: 'This request expired',
    expiredText: 'It was not finished in time. Close this window and start again.',
    finishedTitle: 'Already connected',
    finishedText: 'This connection was already completed; it cannot be used again. Close this window.',
    tooManyLoginsTitle: 'Too many attempts',
    tooManyLoginsText: 'Your bank refused too many logins. Close this window and start again later.',
    requestOverTitle: 'This request is over',
    requestOverText: 'It expired or was already answered. Close this window and ask for a new update.',
    codeExpiredTitle: 'The code expired',
    codeExpiredText: 'It was not entered in time. Close this window and ask for a new update.',
    tooManyCodesTitle: 'Too many wrong codes',
    tooManyCodesText: 'Your bank needs a new request. Close this window and ask for a new update.',
    notUpdatedTitle: 'The update did not finish',
    notUpdatedText: (bank) => bank + ' could not send your movements this time. ' +
      'Close this window and try again later.',
  },
};

export const LANGUAGES = Object.keys(TEXTS);
export const DEFAULT_LANGUAGE = 'es';

let current = DEFAULT_LANGUAGE;

/** Chooses the session's language ('es' or 'en'; anything else is the default). */
export function setLanguage(language) {
  current = Object.prototype.hasOwnProperty.call(TEXTS, language) ? language : DEFAULT_LANGUAGE;
  return current;
}

export function language() {
  return current;
}

/** The entry `key` in the session's language, given `args` when it is a function. */
export function t(key, ...args) {
  const entry = TEXTS[current][key];
  if (entry === undefined) throw new Error('no text ' + key);
  return typeof entry === 'function' ? entry(...args) : entry;
}

/** Of a bank's second-factor hint, the masked phone number only (it reads the same in any language). */
export function maskedPhone(hint) {
  const found = typeof hint === 'string' && hint.match(/\+?\d[\d ]*\*+[\d ]*\d/);
  return found ? found[0].trim() : '';
}

/** Fills the page's static labels (data-text, data-label) and its language. */
export function localize(root) {
  root.documentElement.lang = current;
  root.title = t('pageTitle');
  root.querySelectorAll('[data-text]').forEach((el) => {
    el.textContent = t(el.getAttribute('data-text'));
  });
  root.querySelectorAll('[data-label]').forEach((el) => {
    el.setAttribute('aria-label', t(el.getAttribute('data-label')));
  });
}
