"""The site's HTML, in two layouts: `v1`, which the scrapers know, and `v2`, a redesign with
other markup, for the "the bank changed its site" fault."""

from __future__ import annotations

from html import escape

from .data import Account, Movement, User


def clp(amount: int) -> str:
    """`$1.234.567` as Chilean sites print money (dots for thousands)."""
    return f"${abs(amount):,}".replace(",", ".")


def page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="es"><head><meta charset="utf-8">'
        f"<title>{escape(title)} · Banco Falso</title></head>"
        f'<body><header><h1>Banco Falso</h1></header><main id="content">{body}</main></body></html>'
    )


def login_form(csrf: str, error: str = "") -> str:
    alert = f'<p class="alert alert-error">{escape(error)}</p>' if error else ""
    return page(
        "Ingreso",
        f"""<h2>Ingreso a Banca en Línea</h2>{alert}
<form id="login-form" method="post" action="/login">
  <input type="hidden" name="csrf_token" value="{escape(csrf)}">
  <label>RUT <input name="rut" autocomplete="username"></label>
  <label>Clave <input name="clave" type="password" autocomplete="current-password"></label>
  <button type="submit">Ingresar</button>
</form>""",
    )


def message(title: str, text: str, kind: str) -> str:
    return page(title, f'<h2>{escape(title)}</h2><p class="alert alert-{kind}">{escape(text)}</p>')


def sms_form(csrf: str, phone: str, error: str = "") -> str:
    alert = f'<p class="alert alert-error">{escape(error)}</p>' if error else ""
    return page(
        "Clave dinámica",
        f"""<h2>Clave dinámica</h2>{alert}
<p class="sms-hint">Enviamos un código por SMS al <span id="phone">{escape(phone)}</span>.</p>
<form id="sms-form" method="post" action="/sms">
  <input type="hidden" name="csrf_token" value="{escape(csrf)}">
  <label>Código <input name="codigo" inputmode="numeric"></label>
  <button type="submit">Confirmar</button>
</form>""",
    )


def accounts(user: User, layout: str) -> str:
    if layout == "v2":
        cards = "".join(
            f'<div class="card"><span>{escape(a.kind)}</span><b>{escape(a.number)}</b>'
            f"<em>{clp(a.balance)}</em></div>"
            for a in user.accounts
        )
        return page("Resumen", f'<section class="cards">{cards}</section>')
    rows = "".join(
        f"""<tr data-account="{escape(a.number)}">
  <td class="kind">{escape(a.kind)}</td>
  <td class="number"><a href="/cuentas/{escape(a.number)}/movimientos">{escape(a.number)}</a></td>
  <td class="available">{clp(a.balance + a.credit_line)}</td>
  <td class="balance">{clp(a.balance)}</td>
  <td class="credit-line">{clp(a.credit_line)}</td>
</tr>"""
        for a in user.accounts
    )
    return page(
        "Mis cuentas",
        f"""<h2>Mis cuentas</h2>
<p class="holder">Titular: <span id="holder-name">{escape(user.name)}</span>
  · RUT <span id="holder-rut">{escape(user.rut)}</span></p>
<table id="accounts"><thead><tr><th>Producto</th><th>Número</th><th>Disponible</th>
<th>Saldo contable</th><th>Línea de crédito</th></tr></thead><tbody>{rows}</tbody></table>""",
    )


def movements(account: Account, moves: list[Movement], page_no: int, pages: int, query: str) -> str:
    rows = "".join(
        f"""<tr data-operation="{escape(m.operation)}">
  <td class="date">{m.day.strftime("%d/%m/%Y")}</td>
  <td class="description">{escape(m.description)}</td>
  <td class="operation">{escape(m.operation)}</td>
  <td class="debit">{clp(m.amount) if m.amount < 0 else ""}</td>
  <td class="credit">{clp(m.amount) if m.amount >= 0 else ""}</td>
  <td class="state">{"Pendiente" if m.pending else "Contabilizado"}</td>
</tr>"""
        for m in moves
    )
    base = f"/cuentas/{escape(account.number)}/movimientos"
    nav = ""
    if page_no < pages:
        nav = f'<a class="next" rel="next" href="{base}?{escape(query)}&amp;pagina={page_no + 1}">Siguiente</a>'
    return page(
        "Movimientos",
        f"""<h2>Movimientos de la cuenta {escape(account.number)}</h2>
<p><a class="export" href="{base}.csv?{escape(query)}">Descargar CSV</a></p>
<table id="movements"><thead><tr><th>Fecha</th><th>Descripción</th><th>N° operación</th>
<th>Cargo</th><th>Abono</th><th>Estado</th></tr></thead><tbody>{rows}</tbody></table>
<nav class="pager"><span class="page">Página {page_no} de {pages}</span> {nav}</nav>""",
    )
