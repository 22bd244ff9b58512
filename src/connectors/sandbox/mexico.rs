//! `mx_banco_sandbox`: RFC logins, a second factor on every login, MXN centavos, SPEI wording.

use std::borrow::Cow;

use crate::connectors::rfc::Rfc;
use crate::connectors::sandbox::profile::{
    money, person_name, AccountKind, AccountSpec, MovementBody, Profile, SandboxUser,
};
use crate::connectors::sandbox::seed::Rng;
use crate::connectors::{ConnectorError, HolderType, Institution, MfaKind, TransferAccount};

/// The Mexican sandbox bank.
pub(crate) struct Mexico;

static INSTITUTION: Institution = Institution {
    id: Cow::Borrowed("mx_banco_sandbox"),
    name: Cow::Borrowed("Banco Sandbox México"),
    country: Cow::Borrowed("mx"),
    currency: Cow::Borrowed("MXN"),
};

/// People log in with any well-formed 13-character RFC starting with this, e.g. `SAND800101AB1`.
pub(crate) const INDIVIDUAL_PREFIX: &str = "SAND";
/// Companies log in with any well-formed 12-character RFC starting with this, e.g. `SAN990401XY9`.
pub(crate) const BUSINESS_PREFIX: &str = "SAN";

static INDIVIDUAL_ACCOUNTS: [AccountSpec; 3] = [
    AccountSpec {
        slot: "checking",
        kind: AccountKind::Checking,
        name: "Cuenta de Cheques",
        official_name: "Cuenta Digital Sandbox",
        presence: 100,
        balance: (50_000, 25_000_000),
    },
    AccountSpec {
        slot: "savings",
        kind: AccountKind::Savings,
        name: "Cuenta de Ahorro",
        official_name: "Ahorro Sandbox Plus",
        presence: 100,
        balance: (10_000, 40_000_000),
    },
    AccountSpec {
        slot: "credit",
        kind: AccountKind::Credit,
        name: "Línea de Crédito",
        official_name: "Crédito Personal Revolvente",
        presence: 40,
        balance: (2_000_000, 15_000_000),
    },
];

static BUSINESS_ACCOUNTS: [AccountSpec; 3] = [
    AccountSpec {
        slot: "checking",
        kind: AccountKind::Checking,
        name: "Cuenta de Cheques",
        official_name: "Cuenta Empresarial Sandbox",
        presence: 100,
        balance: (5_000_000, 900_000_000),
    },
    AccountSpec {
        slot: "credit",
        kind: AccountKind::Credit,
        name: "Línea de Crédito",
        official_name: "Crédito Revolvente Empresarial",
        presence: 100,
        balance: (50_000_000, 500_000_000),
    },
    AccountSpec {
        slot: "savings",
        kind: AccountKind::Savings,
        name: "Cuenta de Inversión",
        official_name: "Inversión a la Vista Empresarial",
        presence: 40,
        balance: (10_000_000, 400_000_000),
    },
];

const FIRST_NAMES: [&str; 20] = [
    "José",
    "Luis",
    "Juan",
    "Miguel Ángel",
    "Alejandro",
    "Carlos",
    "Jorge",
    "Diego",
    "Santiago",
    "Emiliano",
    "Guadalupe",
    "María Fernanda",
    "Ximena",
    "Daniela",
    "Ana",
    "Sofía",
    "Regina",
    "Valeria",
    "Mariana",
    "Andrea",
];

const SURNAMES: [&str; 20] = [
    "Hernández",
    "García",
    "Martínez",
    "López",
    "González",
    "Pérez",
    "Rodríguez",
    "Sánchez",
    "Ramírez",
    "Cruz",
    "Flores",
    "Gómez",
    "Morales",
    "Vázquez",
    "Reyes",
    "Jiménez",
    "Torres",
    "Díaz",
    "Gutiérrez",
    "Ruiz",
];

const COMPANY_KINDS: [&str; 7] = [
    "Comercializadora",
    "Grupo",
    "Servicios",
    "Distribuidora",
    "Constructora",
    "Abarrotes",
    "Transportes",
];

/// Fintoc id, name, and the three-digit code that starts the bank's CLABEs.
const BANKS: [(&str, &str, &str); 5] = [
    ("mx_banco_bbva", "BBVA México", "012"),
    ("mx_banco_banorte", "Banorte", "072"),
    ("mx_banco_santander", "Santander México", "014"),
    ("mx_banco_citibanamex", "Citibanamex", "002"),
    ("mx_banco_hsbc", "HSBC México", "021"),
];

const MERCHANTS: [&str; 10] = [
    "OXXO",
    "Walmart",
    "Soriana",
    "Liverpool",
    "Chedraui",
    "Costco",
    "Sanborns",
    "Farmacias del Ahorro",
    "Starbucks",
    "Uber",
];

const BILLERS: [&str; 8] = [
    "CFE",
    "Telmex",
    "Izzi",
    "Totalplay",
    "Telcel",
    "AT&T",
    "Netflix",
    "Seguros GNP",
];

const CONCEPTS: [&str; 7] = [
    "Pago de renta",
    "Colegiatura",
    "Préstamo",
    "Servicios profesionales",
    "Despensa",
    "Pago factura",
    "Cooperación",
];

/// Centavos in `n` pesos: amounts are in the currency's smallest unit.
const fn pesos(n: i64) -> i64 {
    n * 100
}

fn company_name(rng: &mut Rng) -> String {
    let suffix = *rng.pick(&["S.A. de C.V.", "S. de R.L. de C.V."]);
    format!(
        "{} {} {suffix}",
        rng.pick(&COMPANY_KINDS),
        rng.pick(&SURNAMES)
    )
}

/// An RFC-shaped id: `letters` letters, a plausible date and a homoclave.
fn fake_rfc(rng: &mut Rng, letters: usize) -> String {
    const ALPHABET: [char; 24] = [
        'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'L', 'M', 'N', 'O', 'P', 'R', 'S', 'T',
        'U', 'V', 'X', 'Y', 'Z', 'Q',
    ];
    let mut out: String = (0..letters).map(|_| *rng.pick(&ALPHABET)).collect();
    let (year, month, day) = (rng.range(60, 99), rng.range(1, 12), rng.range(1, 28));
    out.push_str(&format!("{year:02}{month:02}{day:02}"));
    out.push(*rng.pick(&ALPHABET));
    out.push(*rng.pick(&ALPHABET));
    out.push_str(&rng.range(0, 9).to_string());
    out
}

/// An 18-digit CLABE of `bank_code` with its weighted (3, 7, 1) modulo-10 check digit.
fn clabe(rng: &mut Rng, bank_code: &str) -> String {
    let mut digits = format!("{bank_code}{:03}{}", rng.range(1, 999), rng.digits(11));
    let sum: u32 = digits
        .chars()
        .filter_map(|c| c.to_digit(10))
        .zip([3, 7, 1].into_iter().cycle())
        .map(|(d, w)| d * w % 10)
        .sum();
    digits.push_str(&((10 - sum % 10) % 10).to_string());
    digits
}

fn counterparty(rng: &mut Rng) -> TransferAccount {
    let (rfc, name) = if rng.chance(60) {
        (fake_rfc(rng, 4), person_name(rng, &FIRST_NAMES, &SURNAMES))
    } else {
        (fake_rfc(rng, 3), company_name(rng))
    };
    let (bank_id, bank_name, code) = *rng.pick(&BANKS);
    TransferAccount {
        holder_id: Some(rfc),
        holder_name: Some(name),
        number: Some(clabe(rng, code)),
        institution_id: Some(bank_id.to_string()),
        institution_name: Some(bank_name.to_string()),
        institution_country: Some("mx".to_string()),
    }
}

fn spei(rng: &mut Rng, amount: i64) -> MovementBody {
    let other = counterparty(rng);
    let name = other.holder_name.clone().unwrap_or_default();
    let description = if amount > 0 {
        format!("SPEI recibido de {name}")
    } else {
        format!("SPEI enviado a {name}")
    };
    let comment = rng.chance(50).then(|| rng.pick(&CONCEPTS).to_string());
    MovementBody::transfer(amount, description, other, rng.digits(7), comment)
}

impl Profile for Mexico {
    fn institution(&self) -> &'static Institution {
        &INSTITUTION
    }

    fn user(&self, username: &str, holder_type: HolderType) -> Result<SandboxUser, ConnectorError> {
        let rfc = Rfc::parse(username).map_err(|_| ConnectorError::InvalidCredentials)?;
        let prefix = match rfc.holder_type() {
            HolderType::Individual => INDIVIDUAL_PREFIX,
            HolderType::Business => BUSINESS_PREFIX,
        };
        if !rfc.as_str().starts_with(prefix) || rfc.holder_type() != holder_type {
            return Err(ConnectorError::InvalidCredentials);
        }
        Ok(SandboxUser {
            holder_id: rfc.as_str().to_string(),
            holder_type,
        })
    }

    fn default_mfa(&self) -> Option<MfaKind> {
        Some(MfaKind::Sms)
    }

    fn phone_prefix(&self) -> &'static str {
        "+52 55"
    }

    fn account_number_len(&self) -> usize {
        11
    }

    fn accounts(&self, holder_type: HolderType) -> &'static [AccountSpec] {
        match holder_type {
            HolderType::Individual => &INDIVIDUAL_ACCOUNTS,
            HolderType::Business => &BUSINESS_ACCOUNTS,
        }
    }

    fn holder_name(&self, rng: &mut Rng, holder_type: HolderType) -> String {
        match holder_type {
            HolderType::Individual => person_name(rng, &FIRST_NAMES, &SURNAMES),
            HolderType::Business => company_name(rng),
        }
    }

    fn movement(&self, rng: &mut Rng, kind: AccountKind, holder_type: HolderType) -> MovementBody {
        if kind == AccountKind::Credit {
            return credit_line(rng);
        }
        // Amounts are centavos; companies move larger sums.
        let scale = if holder_type == HolderType::Business {
            6
        } else {
            1
        };
        match rng.range(0, 99) {
            0..=23 => {
                let amount = money(rng, pesos(100), pesos(25_000), 1) * scale;
                spei(rng, amount)
            }
            24..=47 => {
                let amount = -money(rng, pesos(100), pesos(20_000), 1) * scale;
                spei(rng, amount)
            }
            48..=67 => {
                let amount = -money(rng, pesos(25), pesos(4_500), 1) * scale;
                MovementBody::other(
                    amount,
                    format!("Compra con tarjeta {}", rng.pick(&MERCHANTS)),
                )
            }
            68..=75 => {
                let amount = -money(rng, pesos(199), pesos(2_500), 1) * scale;
                MovementBody::other(amount, format!("Domiciliación {}", rng.pick(&BILLERS)))
            }
            76..=80 => {
                let document = rng.digits(7);
                let amount = -money(rng, pesos(1_000), pesos(60_000), 100) * scale;
                MovementBody::check(amount, format!("Cheque pagado No. {document}"), document)
            }
            81..=85 => {
                let mut body = self.check_deposit(rng);
                body.amount *= scale;
                body
            }
            86..=89 if holder_type == HolderType::Business => MovementBody::other(
                -money(rng, pesos(150_000), pesos(900_000), 1),
                "Pago de nómina",
            ),
            86..=89 => MovementBody::other(
                money(rng, pesos(8_000), pesos(60_000), 1),
                "Depósito de nómina",
            ),
            90..=93 => MovementBody::other(
                -money(rng, pesos(50), pesos(250), 1),
                "Comisión por manejo de cuenta",
            ),
            94..=95 => MovementBody::other(-money(rng, pesos(8), pesos(40), 1), "IVA comisión"),
            _ => MovementBody::other(
                -money(rng, pesos(200), pesos(8_000), pesos(100)),
                "Retiro en cajero automático",
            ),
        }
    }

    fn check_deposit(&self, rng: &mut Rng) -> MovementBody {
        let document = rng.digits(7);
        let amount = money(rng, pesos(1_000), pesos(80_000), 100);
        MovementBody::check(
            amount,
            format!("Depósito de cheque No. {document}"),
            document,
        )
    }
}

/// A revolving credit line: draws, payments, interest and its VAT.
fn credit_line(rng: &mut Rng) -> MovementBody {
    match rng.range(0, 9) {
        0..=3 => MovementBody::other(
            -money(rng, pesos(1_000), pesos(30_000), 100),
            "Disposición de línea de crédito",
        ),
        4..=6 => MovementBody::other(
            money(rng, pesos(1_000), pesos(40_000), 100),
            "Pago a línea de crédito",
        ),
        7..=8 => MovementBody::other(
            -money(rng, pesos(50), pesos(3_000), 1),
            "Intereses ordinarios",
        ),
        _ => MovementBody::other(-money(rng, pesos(8), pesos(480), 1), "IVA intereses"),
    }
}
