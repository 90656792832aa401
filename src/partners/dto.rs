use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use super::models::{PartnerKind, PartnerRow};
use crate::{
    error::{ApiError, ApiResult},
    extract::double_option,
    ids::PartnerId,
    vocab::{County, ServiceKind},
};

/// How to reach the organisation.
#[derive(Debug, Default, Clone, Serialize, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    #[validate(custom(function = "crate::extract::not_blank"), length(min = 1, max = 200))]
    #[schema(max_length = 200, min_length = 1, pattern = r"\S")]
    pub name: Option<String>,
    #[validate(email, length(max = 254))]
    #[schema(format = "email", max_length = 254)]
    pub email: Option<String>,
    #[validate(length(min = 3, max = 40))]
    #[schema(max_length = 40, example = "+254 700 000000", min_length = 3)]
    pub phone: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Partner {
    pub id: PartnerId,
    pub name: String,
    pub kind: PartnerKind,
    /// Counties the organisation works in.
    pub counties: Vec<County>,
    pub contact: Contact,
    pub services_offered: Vec<ServiceKind>,
    pub mou_signed_on: Option<NaiveDate>,
    pub mou_expires_on: Option<NaiveDate>,
    /// Derived: an MOU is signed and has not expired today.
    pub mou_in_force: bool,
    pub active: bool,
    /// Staff-only notes about the organisation; always `null` for its own partner users.
    pub notes: Option<String>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Partner {
    /// The organisation as `user` may see it: partner users do not see staff notes about it.
    pub fn for_viewer(row: PartnerRow, user: &crate::auth::AuthUser) -> Self {
        let mut partner = Partner::from(row);
        if user.role == crate::auth::Role::Partner {
            partner.notes = None;
        }
        partner
    }
}

impl From<PartnerRow> for Partner {
    fn from(row: PartnerRow) -> Self {
        let today = crate::vocab::today();
        Partner {
            mou_in_force: row.mou_signed_on.is_some_and(|s| s <= today)
                && row.mou_expires_on.is_none_or(|e| e >= today),
            id: row.id,
            name: row.name,
            kind: row.kind,
            counties: row.counties,
            contact: Contact {
                name: row.contact_name,
                email: row.contact_email,
                phone: row.contact_phone,
            },
            services_offered: row.services_offered,
            mou_signed_on: row.mou_signed_on,
            mou_expires_on: row.mou_expires_on,
            active: row.active,
            notes: row.notes,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct CreatePartner {
    #[validate(custom(function = "crate::extract::not_blank"), length(min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
    pub kind: PartnerKind,
    #[serde(default)]
    #[validate(length(max = 47))]
    #[schema(max_items = 47)]
    pub counties: Vec<County>,
    #[serde(default)]
    #[validate(nested)]
    pub contact: Contact,
    #[serde(default)]
    pub services_offered: Vec<ServiceKind>,
    pub mou_signed_on: Option<NaiveDate>,
    /// Not before `mou_signed_on`.
    pub mou_expires_on: Option<NaiveDate>,
    #[serde(default = "yes")]
    #[schema(default = true)]
    pub active: bool,
    #[validate(length(max = 4000))]
    #[schema(max_length = 4000)]
    pub notes: Option<String>,
}

fn yes() -> bool {
    true
}

/// Fields to change; absent fields stay, `null` clears a nullable field.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct UpdatePartner {
    #[validate(custom(function = "crate::extract::not_blank"), length(min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200, pattern = r"\S", nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub name: Option<String>,
    #[schema(nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub kind: Option<PartnerKind>,
    #[validate(length(max = 47))]
    #[schema(max_items = 47, nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub counties: Option<Vec<County>>,
    /// Replaces the whole contact.
    #[validate(nested)]
    #[schema(nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub contact: Option<Contact>,
    #[schema(nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub services_offered: Option<Vec<ServiceKind>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<NaiveDate>)]
    pub mou_signed_on: Option<Option<NaiveDate>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<NaiveDate>)]
    pub mou_expires_on: Option<Option<NaiveDate>>,
    #[schema(nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub active: Option<bool>,
    #[serde(default, deserialize_with = "double_option")]
    #[validate(length(max = 4000))]
    #[schema(value_type = Option<String>, max_length = 4000)]
    pub notes: Option<Option<String>>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PartnerFilter {
    pub kind: Option<PartnerKind>,
    /// Organisations working in this county.
    pub county: Option<County>,
    pub active: Option<bool>,
    /// Case-insensitive search in the name.
    pub q: Option<String>,
}

/// An MOU cannot expire before it was signed.
pub fn check_mou_dates(signed: Option<NaiveDate>, expires: Option<NaiveDate>) -> ApiResult<()> {
    match (signed, expires) {
        (Some(s), Some(e)) if e < s => Err(ApiError::invalid_field(
            "mou_expires_on",
            "before_signature",
            "must not be before mou_signed_on",
        )),
        _ => Ok(()),
    }
}
