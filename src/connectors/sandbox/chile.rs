//! `cl_banco_sandbox`: Fintoc's Chilean test users, CLP amounts, Chilean statement wording.

use std::borrow::Cow;

use crate::connectors::rut::Rut;
use crate::connectors::sandbox::profile::{
    money, person_name, AccountKind, AccountSpec, MovementBody, Profile, SandboxUser,
};
use crate::connectors::sandbox::seed::Rng;
use crate::connectors::{ConnectorError, HolderType, Institution, MfaKind, TransferAccount};

/// The Chilean sandbox bank.
pub(crate) struct Chile;

static INSTITUTION: Institution = Institution {
    id: Cow::Borrowed("cl_banco_sandbox"),
    name: Cow::Borrowed("Banco Sandbox Chile"),
    country: Cow::Borrowed("cl"),
    currency: Cow::Borrowed("CLP"),
};

/// Fintoc's documented test individuals (without dots or hyphen).
pub(crate) const INDIVIDUALS: [&str; 3] = ["416148503", "404276727", "415792638"];

/// Companies: any valid RUT whose number is above this, as in Fintoc's test mode.
pub(crate) const BUSINESS_ABOVE: u32 = 45_000_000;

static INDIVIDUAL_ACCOUNTS: [AccountSpec; 3] = [
    AccountSpec {
        slot: "checking",
        kind: AccountKind::Checking,
        name: "Cuenta Corriente",
        official_name: "Cuenta Corriente Moneda Local",
        presence: 100,
        balance: (80_000, 6_000_000),
    },
    AccountSpec {
        slot: "credit",
        kind: AccountKind::Credit,
        name: "Línea de Crédito",
        official_name: "Línea de Crédito Cuenta Corriente",
        presence: 100,
        balance: (500_000, 5_000_000),
    },
    AccountSpec {
        slot: "sight",
        kind: AccountKind::Sight,
        name: "Cuenta Vista",
        official_name: "Cuenta Vista Sandbox",
        presence: 50,
        balance: (5_000, 900_000),
    },
];

static BUSINESS_ACCOUNTS: [AccountSpec; 3] = [
    AccountSpec {
        slot: "checking",
        kind: AccountKind::Checking,
        name: "Cuenta Corriente",
        official_name: "Cuenta Corriente Empresas",
        presence: 100,
        balance: (2_000_000, 180_000_000),
    },
    AccountSpec {
        slot: "credit",
        kind: AccountKind::Credit,
        name: "Línea de Crédito",
        official_name: "Línea de Crédito Empresas",
        presence: 100,
        balance: (10_000_000, 90_000_000),
    },
    AccountSpec {
        slot: "savings",
        kind: AccountKind::Savings,
        name: "Cuenta de Ahorro",
        official_name: "Cuenta de Ahorro a Plazo",
        presence: 35,
        balance: (1_000_000, 50_000_000),
    },
];

const FIRST_NAMES: [&str; 20] = [
    "Camila",
    "Valentina",
    "Javiera",
    "Catalina",
    "Francisca",
    "Constanza",
    "Sofía",
    "Isidora",
    "María José",
    "Fernanda",
    "Matías",
    "Benjamín",
    "Sebastián",
    "Vicente",
    "Tomás",
    "Joaquín",
    "Cristóbal",
    "Felipe",
    "Ignacio",
    "Juan Pablo",
];

const SURNAMES: [&str; 24] = [
    "González",
    "Muñoz",
    "Rojas",
    "Díaz",
    "Pérez",
    "Soto",
    "Contreras",
    "Silva",
    "Martínez",
    "Sepúlveda",
    "Morales",
    "Rodríguez",
    "López",
    "Fuentes",
    "Hernández",
    "Torres",
    "Araya",
    "Flores",
    "Espinoza",
    "Valenzuela",
    "Castillo",
    "Tapia",
    "Reyes",
    "Vásquez",
];

const COMPANY_KINDS: [&str; 8] = [
    "Comercial",
    "Inversiones",
    "Servicios",
    "Constructora",
    "Distribuidora",
    "Transportes",
    "Agrícola",
    "Importadora",
];

const BANKS: [(&str, &str); 6] = [
    ("cl_banco_de_chile", "Banco de Chile"),
    ("cl_banco_santander", "Banco Santander"),
    ("cl_banco_estado", "BancoEstado"),
    ("cl_banco_bci", "Banco BCI"),
    ("cl_banco_itau", "Banco Itaú"),
    ("cl_banco_scotiabank", "Scotiabank"),
];

const MERCHANTS: [&str; 12] = [
    "Líder Express",
    "Jumbo",
    "Copec",
    "Falabella",
    "Unimarc",
    "Farmacias Ahumada",
    "Santa Isabel",
    "Sodimac",
    "Ripley",
    "Paris",
    "Shell",
    "Cruz Verde",
];

const BILLERS: [&str; 8] = [
    "Enel",
    "Aguas Andinas",
    "Metrogas",
    "Entel",
    "Movistar",
    "VTR",
    "Isapre Colmena",
    "Seguros Sura",
];

const COMMENTS: [&str; 7] = [
    "Arriendo",
    "Gastos comunes",
    "Devolución préstamo",
    "Cuota paseo",
    "Regalo cumpleaños",
    "Pago factura",
    "Honorarios",
];

fn company_name(rng: &mut Rng) -> String {
    let suffix = *rng.pick(&["SpA", "Ltda.", "SpA", "S.A."]);
    format!(
        "{} {} {suffix}",
        rng.pick(&COMPANY_KINDS),
        rng.pick(&SURNAMES)
    )
}

/// Someone at another Chilean bank: a person (RUT 6-26 million) or a company (76-78 million).
fn counterparty(rng: &mut Rng) -> TransferAccount {
    let (rut, name) = if rng.chance(60) {
        let body = u32::try_from(rng.range(6_000_000, 26_000_000)).unwrap_or(6_000_000);
        (
            Rut::from_body(body),
            person_name(rng, &FIRST_NAMES, &SURNAMES),
        )
    } else {
        let body = u32::try_from(rng.range(76_000_000, 78_000_000)).unwrap_or(76_000_000);
        (Rut::from_body(body), company_name(rng))
    };
    let (bank_id, bank_name) = *rng.pick(&BANKS);
    let digits = usize::try_from(rng.range(8, 11)).unwrap_or(10);
    TransferAccount {
        holder_id: Some(rut.compact()),
        holder_name: Some(name),
        number: Some(rng.digits(digits)),
        institution_id: Some(bank_id.to_string()),
        institution_name: Some(bank_name.to_string()),
        institution_country: Some("cl".to_string()),
    }
}

fn transfer(rng: &mut Rng, amount: i64) -> MovementBody {
    let other = counterparty(rng);
    let name = other.holder_name.clone().unwrap_or_default();
    let description = if amount > 0 {
        format!("Traspaso de: {name}")
    } else {
        format!("Traspaso a: {name}")
    };
    let comment = rng.chance(40).then(|| rng.pick(&COMMENTS).to_string());
    MovementBody::transfer(amount, description, other, rng.digits(9), comment)
}

impl Profile for Chile {
    fn institution(&self) -> &'static Institution {
        &INSTITUTION
    }

    fn user(&self, username: &str, holder_type: HolderType) -> Result<SandboxUser, ConnectorError> {
        let rut = Rut::parse(username).map_err(|_| ConnectorError::InvalidCredentials)?;
        let holder_id = rut.compact();
        let kind = if INDIVIDUALS.contains(&holder_id.as_str()) {
            HolderType::Individual
        } else if rut.body() > BUSINESS_ABOVE {
            HolderType::Business
        } else {
            return Err(ConnectorError::InvalidCredentials);
        };
        // A company cannot log in to personal banking, nor a person to business banking.
        if kind != holder_type {
            return Err(ConnectorError::InvalidCredentials);
        }
        Ok(SandboxUser {
            holder_id,
            holder_type,
        })
    }

    fn default_mfa(&self) -> Option<MfaKind> {
        // Fintoc: MFA on refresh is only enabled for Mexican banks.
        None
    }

    fn phone_prefix(&self) -> &'static str {
        "+56 9"
    }

    fn account_number_len(&self) -> usize {
        10
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
        // Companies move larger sums.
        let scale = if holder_type == HolderType::Business {
            8
        } else {
            1
        };
        let roll = rng.range(0, 99);
        match roll {
            0..=21 => {
                let amount = money(rng, 5_000, 600_000, 100) * scale;
                transfer(rng, amount)
            }
            22..=43 => {
                let amount = -money(rng, 5_000, 500_000, 100) * scale;
                transfer(rng, amount)
            }
            44..=65 => {
                let amount = -money(rng, 1_500, 120_000, 10) * scale;
                MovementBody::other(amount, format!("Compra en {}", rng.pick(&MERCHANTS)))
            }
            66..=74 => {
                let amount = -money(rng, 8_000, 95_000, 1) * scale;
                MovementBody::other(amount, format!("Pago PAC {}", rng.pick(&BILLERS)))
            }
            75..=80 => {
                let document = rng.digits(7);
                let amount = -money(rng, 20_000, 900_000, 1_000) * scale;
                MovementBody::check(amount, format!("Pago de cheque N° {document}"), document)
            }
            81..=86 => self.check_deposit_scaled(rng, scale),
            87..=90 if holder_type == HolderType::Business => {
                MovementBody::other(-money(rng, 2_000_000, 25_000_000, 1), "Pago remuneraciones")
            }
            87..=90 => {
                MovementBody::other(money(rng, 650_000, 3_500_000, 1), "Abono remuneraciones")
            }
            91..=94 => MovementBody::other(-money(rng, 2_500, 9_900, 10), "Comisión mantención"),
            _ => MovementBody::other(
                -money(rng, 10_000, 200_000, 10_000),
                "Giro cajero automático",
            ),
        }
    }

    fn check_deposit(&self, rng: &mut Rng) -> MovementBody {
        self.check_deposit_scaled(rng, 1)
    }
}

impl Chile {
    fn check_deposit_scaled(&self, rng: &mut Rng, scale: i64) -> MovementBody {
        let document = rng.digits(7);
        let amount = money(rng, 30_000, 1_500_000, 1_000) * scale;
        MovementBody::check(
            amount,
            format!("Depósito de cheque N° {document}"),
            document,
        )
    }
}

/// A line of credit: draws to the checking account, payments back, interest and stamp tax.
fn credit_line(rng: &mut Rng) -> MovementBody {
    match rng.range(0, 9) {
        0..=3 => MovementBody::other(
            -money(rng, 50_000, 600_000, 1_000),
            "Traspaso a cuenta corriente",
        ),
        4..=6 => MovementBody::other(money(rng, 50_000, 800_000, 1_000), "Pago línea de crédito"),
        7 => MovementBody::other(-money(rng, 1_000, 45_000, 1), "Intereses línea de crédito"),
        8 => MovementBody::other(
            -money(rng, 200, 6_000, 1),
            "Impuesto de timbres y estampillas",
        ),
        _ => MovementBody::other(
            -money(rng, 1_500, 4_500, 10),
            "Comisión administración línea",
        ),
    }
}
