//! Vocabularies shared by several domains.

use crate::text_enum;

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
    }
}
