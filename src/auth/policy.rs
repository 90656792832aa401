//! Who may do what (DESIGN §2), in one place. Handlers ask; they never decide on their own.
//!
//! Two kinds of answer: a role that may not use an endpoint at all gets 403; a record outside
//! the caller's reach is reported as 404 so that ids cannot be probed.

use super::{AuthUser, Role};
use crate::{
    error::{ApiError, ApiResult},
    ids::PartnerId,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::VariantArray)]
pub enum Permission {
    /// List, create, change and deactivate user accounts.
    ManageUsers,
    /// Read the whole audit log.
    ReadAuditLog,
    /// Read partner organisations (a partner user: only its own).
    ReadPartners,
    /// Create and change partner organisations.
    ManagePartners,
}

pub fn allows(role: Role, permission: Permission) -> bool {
    use Permission::*;
    use Role::*;
    match permission {
        ManageUsers | ReadAuditLog | ManagePartners => role == Admin,
        ReadPartners => true,
    }
}

/// 403 unless the caller's role has `permission`.
pub fn require(user: &AuthUser, permission: Permission) -> ApiResult<()> {
    if allows(user.role, permission) {
        Ok(())
    } else {
        Err(ApiError::forbidden())
    }
}

/// The only organisation a partner user may see; `None` for staff, who see them all.
pub fn partner_scope(user: &AuthUser) -> Option<PartnerId> {
    match user.role {
        Role::Partner => Some(user.organization_id.unwrap_or(PartnerId(uuid::Uuid::nil()))),
        _ => None,
    }
}

/// 404 unless the caller may read this organisation.
pub fn ensure_partner_visible(user: &AuthUser, partner: PartnerId) -> ApiResult<()> {
    require(user, Permission::ReadPartners)?;
    match partner_scope(user) {
        Some(own) if own != partner => Err(ApiError::not_found()),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::VariantArray;

    /// The whole role × permission table, spelled out so that a change to it is a visible change.
    #[test]
    fn role_permission_table() {
        use Permission::*;
        let expected: &[(Role, &[Permission])] = &[
            (Role::Admin, &[ManageUsers, ReadAuditLog, ReadPartners, ManagePartners]),
            (Role::ProgramManager, &[ReadPartners]),
            (Role::CaseWorker, &[ReadPartners]),
            (Role::AftercareOfficer, &[ReadPartners]),
            (Role::Analyst, &[ReadPartners]),
            (Role::Partner, &[ReadPartners]),
        ];
        for (role, granted) in expected {
            for permission in Permission::VARIANTS {
                assert_eq!(
                    allows(*role, *permission),
                    granted.contains(permission),
                    "{role:?} × {permission:?}"
                );
            }
        }
        assert_eq!(expected.len(), Role::VARIANTS.len());
    }
}
