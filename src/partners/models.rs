use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;

use crate::{
    db::schema::partners,
    ids::PartnerId,
    text_enum,
    vocab::{County, ServiceKind},
};

text_enum! {
    pub enum PartnerKind {
        CommunityJusticeCentre,
        Ngo,
        Shelter,
        GovernmentAgency,
        PoliceUnit,
        Prosecution,
        Court,
        FaithBased,
        Media,
        Donor,
        Other,
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = partners)]
pub struct PartnerRow {
    pub id: PartnerId,
    pub name: String,
    pub kind: PartnerKind,
    pub counties: Vec<County>,
    pub contact_name: Option<String>,
    pub contact_email: Option<String>,
    pub contact_phone: Option<String>,
    pub services_offered: Vec<ServiceKind>,
    pub mou_signed_on: Option<NaiveDate>,
    pub mou_expires_on: Option<NaiveDate>,
    pub active: bool,
    pub notes: Option<String>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = partners)]
pub struct NewPartner {
    pub id: PartnerId,
    pub name: String,
    pub kind: PartnerKind,
    pub counties: Vec<County>,
    pub contact_name: Option<String>,
    pub contact_email: Option<String>,
    pub contact_phone: Option<String>,
    pub services_offered: Vec<ServiceKind>,
    pub mou_signed_on: Option<NaiveDate>,
    pub mou_expires_on: Option<NaiveDate>,
    pub active: bool,
    pub notes: Option<String>,
}

/// `None` leaves a column as it is, `Some(None)` clears it.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = partners)]
pub struct PartnerChanges {
    pub name: Option<String>,
    pub kind: Option<PartnerKind>,
    pub counties: Option<Vec<County>>,
    pub contact_name: Option<Option<String>>,
    pub contact_email: Option<Option<String>>,
    pub contact_phone: Option<Option<String>>,
    pub services_offered: Option<Vec<ServiceKind>>,
    pub mou_signed_on: Option<Option<NaiveDate>>,
    pub mou_expires_on: Option<Option<NaiveDate>>,
    pub active: Option<bool>,
    pub notes: Option<Option<String>>,
}
