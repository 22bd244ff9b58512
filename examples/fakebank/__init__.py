"""Banco Falso: a small bank website for testing scrapers, run locally on 127.0.0.1.

It behaves as a real bank site does towards a scraper: an HTML login form with a CSRF token
and cookies, an SMS-code page for some users, an accounts page, movements as paged HTML tables
and as a CSV export. Faults are switched on over `/_control` (see `control.py`): slow pages,
500s, a changed page layout, a locked user, data that changes between visits.
"""
