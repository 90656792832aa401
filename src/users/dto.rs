use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use super::models::UserRow;
use crate::{
    auth::{
        Role,
        password::{MAX_PASSWORD_LEN, MIN_PASSWORD_LEN},
    },
    extract::double_option,
    ids::{PartnerId, UserId},
};

/// A person a record names (an assignee), enough to show them without another request.
#[derive(Debug, Clone, Serialize, ToSchema, diesel::Queryable, diesel::Selectable)]
#[diesel(table_name = crate::db::schema::users)]
pub struct UserRef {
    pub id: UserId,
    pub display_name: String,
    pub role: Role,
}

/// A user account. Never carries the password hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    /// The partner organisation this user acts for (always set for `partner` users).
    pub organization_id: Option<PartnerId>,
    pub active: bool,
    /// True while the account is locked after repeated failed logins.
    pub locked: bool,
    pub locked_until: Option<DateTime<Utc>>,
    pub last_login_at: Option<DateTime<Utc>>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        User {
            locked: row.is_locked(Utc::now()),
            id: row.id,
            email: row.email,
            display_name: row.display_name,
            role: row.role,
            organization_id: row.organization_id,
            active: row.active,
            locked_until: row.locked_until,
            last_login_at: row.last_login_at,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// Unique, compared case-insensitively.
    #[validate(email, length(max = 254))]
    #[schema(format = "email", max_length = 254)]
    pub email: String,
    #[validate(custom(function = "crate::extract::not_blank"), length(min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub display_name: String,
    pub role: Role,
    /// Required for the `partner` role.
    pub organization_id: Option<PartnerId>,
    #[validate(
        length(min = MIN_PASSWORD_LEN, max = MAX_PASSWORD_LEN),
        custom(function = "crate::auth::password::not_common")
    )]
    #[schema(min_length = 12, max_length = 256, format = "password")]
    pub password: String,
}

/// Fields to change; absent fields stay as they are.
#[derive(Debug, Default, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    #[validate(custom(function = "crate::extract::not_blank"), length(min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200, pattern = r"\S", nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub display_name: Option<String>,
    #[schema(nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub role: Option<Role>,
    /// `null` detaches the user from its organisation (not allowed for `partner` users).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<uuid::Uuid>)]
    pub organization_id: Option<Option<PartnerId>>,
    /// `false` deactivates the account and invalidates its tokens at once.
    #[schema(nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub active: Option<bool>,
    /// `true` lifts a lock after failed logins.
    #[schema(nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub unlock: Option<bool>,
    /// Sets a new password (e.g. a temporary one); existing tokens stop working.
    #[validate(
        length(min = MIN_PASSWORD_LEN, max = MAX_PASSWORD_LEN),
        custom(function = "crate::auth::password::not_common")
    )]
    #[schema(min_length = 12, max_length = 256, format = "password", nullable = false)]
    #[serde(default, deserialize_with = "crate::extract::not_null")]
    pub password: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserFilter {
    pub role: Option<Role>,
    pub active: Option<bool>,
    pub organization_id: Option<PartnerId>,
    /// Case-insensitive search in email and display name.
    pub q: Option<String>,
}
