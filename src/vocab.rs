//! Vocabularies shared by several domains.

use chrono::{Duration, NaiveDate, Utc};

use crate::text_enum;

/// The program's calendar day: East Africa Time (UTC+3, no daylight saving). Every "not in the
/// future", "stalled" and "overdue" rule counts days in it, as the database view does.
pub fn today() -> NaiveDate {
    (Utc::now() + Duration::hours(3)).date_naive()
}

text_enum! {
    /// The 47 counties of Kenya, in the order of their official county codes (Mombasa = 1).
    pub enum County {
        Mombasa, Kwale, Kilifi, TanaRiver, Lamu, TaitaTaveta, Garissa, Wajir, Mandera, Marsabit,
        Isiolo, Meru, TharakaNithi, Embu, Kitui, Machakos, Makueni, Nyandarua, Nyeri, Kirinyaga,
        Muranga, Kiambu, Turkana, WestPokot, Samburu, TransNzoia, UasinGishu, ElgeyoMarakwet, Nandi,
        Baringo, Laikipia, Nakuru, Narok, Kajiado, Kericho, Bomet, Kakamega, Vihiga, Bungoma, Busia,
        Siaya, Kisumu, HomaBay, Migori, Kisii, Nyamira, Nairobi,
    }
}

impl County {
    /// The official county code, 1–47.
    pub fn number(self) -> u8 {
        self as u8 + 1
    }

    /// Three-letter code used in case references (`CSEC-MSA-2024-0001`).
    pub fn code(self) -> &'static str {
        use County::*;
        match self {
            Mombasa => "MSA",
            Kwale => "KWL",
            Kilifi => "KLF",
            TanaRiver => "TRV",
            Lamu => "LMU",
            TaitaTaveta => "TTV",
            Garissa => "GRS",
            Wajir => "WJR",
            Mandera => "MDR",
            Marsabit => "MBT",
            Isiolo => "ISL",
            Meru => "MRU",
            TharakaNithi => "TNT",
            Embu => "EMB",
            Kitui => "KTI",
            Machakos => "MKS",
            Makueni => "MKN",
            Nyandarua => "NDR",
            Nyeri => "NYR",
            Kirinyaga => "KRG",
            Muranga => "MRG",
            Kiambu => "KMB",
            Turkana => "TRK",
            WestPokot => "WPK",
            Samburu => "SBR",
            TransNzoia => "TNZ",
            UasinGishu => "UGS",
            ElgeyoMarakwet => "EMK",
            Nandi => "NDI",
            Baringo => "BRG",
            Laikipia => "LKP",
            Nakuru => "NKR",
            Narok => "NRK",
            Kajiado => "KJD",
            Kericho => "KRC",
            Bomet => "BMT",
            Kakamega => "KKG",
            Vihiga => "VHG",
            Bungoma => "BGM",
            Busia => "BSA",
            Siaya => "SYA",
            Kisumu => "KSM",
            HomaBay => "HBY",
            Migori => "MGR",
            Kisii => "KSI",
            Nyamira => "NYM",
            Nairobi => "NRB",
        }
    }

    /// The sub-counties Haki knows for this county (`None`: any name is accepted).
    pub fn sub_counties(self) -> Option<&'static [&'static str]> {
        match self {
            County::Mombasa => Some(&["changamwe", "jomvu", "kisauni", "nyali", "likoni", "mvita"]),
            County::Kwale => Some(&["msambweni", "lunga_lunga", "matuga", "kinango"]),
            County::Kilifi => Some(&[
                "kilifi_north",
                "kilifi_south",
                "kaloleni",
                "rabai",
                "ganze",
                "malindi",
                "magarini",
            ]),
            _ => None,
        }
    }

    /// 422 unless `sub_county` belongs to this county (checked where Haki knows the list).
    pub fn check_sub_county(self, sub_county: Option<&str>) -> crate::error::ApiResult<()> {
        match (sub_county, self.sub_counties()) {
            (Some(sub), Some(known)) if !known.contains(&sub) => Err(crate::error::ApiError::invalid_field(
                "sub_county",
                "unknown_sub_county",
                &format!("is not a sub-county of {self}; expected one of: {}", known.join(", ")),
            )),
            _ => Ok(()),
        }
    }
}

/// An amount of money in the currency's minor unit (cents): `{"amount_minor": 150000, "currency": "KES"}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema, validator::Validate)]
#[serde(deny_unknown_fields)]
pub struct Money {
    #[validate(range(min = 0))]
    #[schema(minimum = 0, example = 150000)]
    pub amount_minor: i64,
    /// ISO 4217 code, e.g. KES, USD, CAD.
    #[validate(custom(function = "validate_currency"))]
    #[schema(pattern = "^[A-Z]{3}$", example = "KES")]
    pub currency: String,
}

impl Money {
    pub fn from_parts(amount: Option<i64>, currency: Option<String>) -> Option<Money> {
        Some(Money {
            amount_minor: amount?,
            currency: currency?,
        })
    }
}

fn validate_currency(code: &str) -> Result<(), validator::ValidationError> {
    if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(validator::ValidationError::new("currency").with_message("must be an ISO 4217 code such as KES".into()))
    }
}

text_enum! {
    /// Kinds of restoration service a survivor receives and a partner may offer.
    pub enum ServiceKind {
        TraumaCounselling,
        PsychosocialSupport,
        Medical,
        Shelter,
        Education,
        Livelihood,
        LegalSupport,
        CourtAccompaniment,
        FamilyReintegration,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::VariantArray;

    #[test]
    fn counties_are_the_47_in_code_order() {
        assert_eq!(County::VARIANTS.len(), 47);
        assert_eq!(County::Mombasa.number(), 1);
        assert_eq!(County::Kilifi.number(), 3);
        assert_eq!(County::Nairobi.number(), 47);
        assert_eq!(County::TaitaTaveta.to_string(), "taita_taveta");
        let mut codes: Vec<&str> = County::VARIANTS.iter().map(|c| c.code()).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), 47, "county codes are unique");
        assert!(County::Kwale.check_sub_county(Some("msambweni")).is_ok());
        assert!(County::Kwale.check_sub_county(Some("nyali")).is_err());
        assert!(County::Nairobi.check_sub_county(Some("westlands")).is_ok());
    }
}
