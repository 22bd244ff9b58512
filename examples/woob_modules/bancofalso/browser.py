from woob.browser import URL, need_login
from woob.browser.mfa import TwoFactorBrowser
from woob.exceptions import (
    ActionNeeded,
    ActionType,
    AppValidationExpired,
    BrowserIncorrectPassword,
    BrowserUserBanned,
    OTPSentType,
    SentOTPQuestion,
)

from .pages import AccountsPage, HistoryPage, LoginPage, NoticePage, SmsPage


class BancoFalsoBrowser(TwoFactorBrowser):
    BASEURL = "http://127.0.0.1:8000"
    # woob matches a URL's pattern at the start of the address: `$` keeps /cuentas from
    # swallowing /cuentas/<n>/movimientos.
    login_page = URL(r"/login", LoginPage)
    sms = URL(r"/sms$", SmsPage)
    notice = URL(r"/aviso$", NoticePage)
    accounts = URL(r"/cuentas$", AccountsPage)
    history = URL(r"/cuentas/(?P<number>\d+)/movimientos", HistoryPage)

    # A login without a second factor is complete after the password (most users).
    HAS_CREDENTIALS_ONLY = True

    def __init__(self, config, *args, **kwargs):
        super().__init__(config, *args, **kwargs)
        self.AUTHENTICATION_METHODS = {"code": self.handle_sms}

    def init_login(self):
        self.login_page.go()
        self.page.login(self.username, self.password)
        if self.login_page.is_here():
            if self.page.is_locked():
                raise BrowserUserBanned(self.page.alert())
            raise BrowserIncorrectPassword(self.page.alert())
        if self.notice.is_here():
            raise ActionNeeded(self.page.alert(), action_type=ActionType.ACKNOWLEDGE)
        if self.sms.is_here():
            self.check_interactive()
            raise SentOTPQuestion(
                "code",
                medium_type=OTPSentType.SMS,
                medium_label=self.page.phone(),
                message="Código enviado por SMS",
            )

    def handle_sms(self):
        # The state put us back on the SMS page of the half-open login.
        self.page.send_code(self.code)
        if self.sms.is_here():
            if self.page.is_expired():
                raise AppValidationExpired(self.page.alert())
            raise BrowserIncorrectPassword(self.page.alert())

    @need_login
    def iter_accounts(self):
        self.accounts.stay_or_go()
        return self.page.iter_accounts()

    @need_login
    def iter_history(self, account):
        self.history.go(number=account.id)
        return self.page.iter_history()
