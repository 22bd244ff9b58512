from woob.browser.elements import ItemElement, ListElement, method
from woob.browser.filters.html import Link
from woob.browser.filters.standard import CleanDecimal, CleanText, Date, Field, Map
from woob.browser.pages import HTMLPage, LoggedPage, pagination
from woob.capabilities.bank import Account, AccountParty, PartyIdentity, Transaction

ALERT = '//p[contains(@class, "alert")]'


class AlertMixin:
    def alert(self):
        return CleanText(ALERT)(self.doc)

    def alert_kind(self, kind):
        return bool(self.doc.xpath(f'//p[contains(@class, "alert-{kind}")]'))


class LoginPage(AlertMixin, HTMLPage):
    def login(self, username, password):
        form = self.get_form(id="login-form")
        form["rut"] = username
        form["clave"] = password
        form.submit()

    def is_locked(self):
        return self.alert_kind("locked")


class NoticePage(AlertMixin, HTMLPage):
    pass


class SmsPage(AlertMixin, HTMLPage):
    def phone(self):
        return CleanText('//span[@id="phone"]')(self.doc)

    def send_code(self, code):
        form = self.get_form(id="sms-form")
        form["codigo"] = code
        form.submit()

    def is_expired(self):
        return self.alert_kind("expired")


def pesos(xpath):
    # "$1.234.567": dots are thousands separators, and pesos have no decimals.
    return CleanDecimal(xpath, replace_dots=True, default=None)


class AccountsPage(LoggedPage, HTMLPage):
    @method
    class iter_accounts(ListElement):
        item_xpath = '//table[@id="accounts"]/tbody/tr'

        class item(ItemElement):
            klass = Account

            obj_id = CleanText('./td[@class="number"]')
            obj_number = Field("id")
            obj_label = CleanText('./td[@class="kind"]')
            obj_type = Map(
                CleanText('./td[@class="kind"]'),
                {"Cuenta Corriente": Account.TYPE_CHECKING, "Cuenta Vista": Account.TYPE_CHECKING},
                Account.TYPE_UNKNOWN,
            )
            obj_balance = pesos('./td[@class="balance"]')
            obj_currency = "CLP"

            def obj_party(self):
                holder = CleanText('//span[@id="holder-name"]')(self)
                identity = PartyIdentity()
                identity.full_name = holder
                identity.is_user = True
                identity.role = PartyIdentity.ROLE_HOLDER
                party = AccountParty()
                party.party_identities = [identity]
                return party


class HistoryPage(LoggedPage, HTMLPage):
    @pagination
    @method
    class iter_history(ListElement):
        item_xpath = '//table[@id="movements"]/tbody/tr'
        next_page = Link('//a[contains(@class, "next")]', default=None)

        class item(ItemElement):
            klass = Transaction

            # The bank's operation number: the same movement keeps it when the bank edits it.
            obj_id = CleanText('./td[@class="operation"]')
            obj_date = Date(CleanText('./td[@class="date"]'), dayfirst=True)
            obj_raw = CleanText('./td[@class="description"]')
            obj_label = Field("raw")
            obj_coming = Map(CleanText('./td[@class="state"]'), {"Pendiente": True}, False)

            def obj_amount(self):
                debit = pesos('./td[@class="debit"]')(self)
                return -debit if debit is not None else pesos('./td[@class="credit"]')(self)

            def obj_type(self):
                label = Field("raw")(self)
                if label.startswith(("Traspaso de:", "Pago a:")):
                    return Transaction.TYPE_TRANSFER
                return Transaction.TYPE_UNKNOWN
