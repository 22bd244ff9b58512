from woob.capabilities.bank import CapBank
from woob.tools.backend import BackendConfig, Module
from woob.tools.value import Value, ValueBackendPassword, ValueTransient

from .browser import BancoFalsoBrowser

__all__ = ["BancoFalsoModule"]


class BancoFalsoModule(Module, CapBank):
    NAME = "bancofalso"
    DESCRIPTION = "Banco Falso, the fake bank of Refresco's examples"
    MAINTAINER = "Refresco"
    EMAIL = "refresco@example.invalid"
    LICENSE = "Apache-2.0"

    CONFIG = BackendConfig(
        ValueBackendPassword("login", label="RUT", masked=False),
        ValueBackendPassword("password", label="Clave"),
        Value("url", label="The bank's address", default="http://127.0.0.1:8000"),
        # Set by the caller to answer the SMS challenge, and to say a person is there.
        ValueTransient("code", regexp=r"^\d{6}$"),
        ValueTransient("request_information"),
    )
    BROWSER = BancoFalsoBrowser

    def create_default_browser(self):
        return self.create_browser(
            self.config,
            self.config["login"].get(),
            self.config["password"].get(),
            baseurl=self.config["url"].get(),
        )

    def iter_accounts(self):
        return self.browser.iter_accounts()

    def iter_history(self, account):
        return self.browser.iter_history(account)
