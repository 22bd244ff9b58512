"""A woob bank module for Banco Falso (examples/fakebank), written as woob's own bank modules
are (a TwoFactorBrowser, URL-routed page classes, ListElement parsers), so the Refresco woob
bridge can be tested on the fake bank."""

from .module import BancoFalsoModule

__all__ = ["BancoFalsoModule"]
