//! Who may do what (DESIGN §2), in one place. Handlers ask; they never decide on their own.
//!
//! Two kinds of answer: a role that may not use an endpoint at all gets 403; a record outside
//! the caller's reach is reported as 404 so that ids cannot be probed.

use super::{AuthUser, Role};
use crate::{
    error::{ApiError, ApiResult},
    ids::PartnerId,
};

/// What a role may do. `GET /me` lists the caller's; a 403 names the one that was missing.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, strum::VariantArray, strum::IntoStaticStr, serde::Serialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Permission {
    /// List, create, change and deactivate user accounts.
    ManageUsers,
    /// Read the whole audit log.
    ReadAuditLog,
    /// Read partner organisations (a partner user: only its own).
    ReadPartners,
    /// Create and change partner organisations.
    ManagePartners,
    /// Open new cases.
    CreateCases,
    /// Change a case within reach and its parts (suspects, charges, court sessions, events,
    /// survivors). Admins see every case but change only users, partners and catalogues.
    ChangeCases,
    /// Assign and unassign people to cases.
    ManageCaseTeams,
    /// Close cases (program managers approve closures).
    CloseCases,
    /// Read who accessed a case.
    ReadCaseAccessLog,
    /// Correct the offence catalogue.
    ManageOffences,
    /// Register survivors and change their records.
    ManageSurvivors,
    /// Record restoration: consents, services, sessions, assessments, closure, follow-ups.
    ChangeRestoration,
    /// Record a survivor's identifying details (her assigned aftercare officer).
    WriteIdentity,
    /// Read the offence catalogue.
    ReadOffences,
    /// Read cases: every case (admins, program managers) or the ones assigned (case workers).
    ReadCases,
    /// Read survivors: all, the assigned ones (aftercare officers) or those of assigned cases
    /// (case workers, by pseudonym).
    ReadSurvivors,
    /// Read restoration records: consents, services, sessions, assessments, closure, follow-ups.
    ReadRestoration,
    /// Read a survivor's identifying details (admins; aftercare officers for their survivors).
    ReadIdentity,
    /// Approve or reject what others request (an aftercare officer's closure of a survivor); a
    /// closure by someone with this permission takes effect at once.
    ApproveClosures,
    /// Read trainings and mentoring (staff).
    ReadTrainings,
    /// Record and correct trainings (analysts, program managers).
    RecordTrainings,
    /// Read referrals: all (staff who triage them, admins) or a partner's own organisation's.
    ReadReferrals,
    /// Submit referrals, correct them while `submitted`, withdraw them: a partner user for its
    /// organisation, staff on a partner's behalf.
    SubmitReferrals,
    /// Acknowledge, accept (into a case and a survivor) and decline referrals.
    TriageReferrals,
    /// Read the indicators, their targets and the indicator report (small counts suppressed for
    /// analysts).
    ReadIndicators,
    /// Set indicator targets and their narrative notes.
    SetIndicatorTargets,
    /// Read the dashboard's aggregate figures (small counts withheld from analysts and partners;
    /// a partner organisation's user sees its own referrals only).
    ReadStats,
    /// Read one's alerts: what needs action within one's reach (staff who work on records).
    ReadAlerts,
    /// Export de-identified records (HTCDS), k-anonymous, consented survivors only.
    ExportDeidentified,
    /// Create, list and revoke one's own API keys (from a signed-in session).
    UseApiKeys,
    /// Create API keys for others; list and revoke anyone's keys and webhooks.
    ManageIntegrations,
    /// Subscribe webhooks and read their deliveries: a partner organisation about its own
    /// referrals, the program about every event.
    ManageWebhooks,
}

pub fn allows(role: Role, permission: Permission) -> bool {
    use Permission::*;
    use Role::*;
    match permission {
        ManageUsers | ReadAuditLog | ManagePartners | ManageOffences => role == Admin,
        ReadPartners => true,
        CreateCases | ChangeCases => matches!(role, ProgramManager | CaseWorker),
        ManageCaseTeams | ReadCaseAccessLog => matches!(role, Admin | ProgramManager),
        CloseCases => role == ProgramManager,
        ReadOffences => role != Partner,
        ManageSurvivors | ChangeRestoration => matches!(role, ProgramManager | AftercareOfficer),
        WriteIdentity => role == AftercareOfficer,
        ReadCases => matches!(role, Admin | ProgramManager | CaseWorker),
        ReadSurvivors => matches!(role, Admin | ProgramManager | CaseWorker | AftercareOfficer),
        ReadRestoration => matches!(role, Admin | ProgramManager | AftercareOfficer),
        ReadIdentity => matches!(role, Admin | AftercareOfficer),
        ApproveClosures => role == ProgramManager,
        ReadTrainings => role != Partner,
        RecordTrainings => matches!(role, ProgramManager | Analyst),
        ReadReferrals => matches!(role, Admin | ProgramManager | CaseWorker | Partner),
        SubmitReferrals => matches!(role, ProgramManager | CaseWorker | Partner),
        TriageReferrals => matches!(role, ProgramManager | CaseWorker),
        ReadIndicators => matches!(role, Admin | ProgramManager | Analyst),
        SetIndicatorTargets => matches!(role, ProgramManager | Analyst),
        ReadStats => matches!(role, Admin | ProgramManager | Analyst | Partner),
        ReadAlerts => matches!(role, Admin | ProgramManager | CaseWorker | AftercareOfficer),
        ExportDeidentified => matches!(role, Admin | Analyst),
        UseApiKeys => true,
        ManageIntegrations => role == Admin,
        ManageWebhooks => matches!(role, Admin | ProgramManager | Partner),
    }
}

/// Every permission `role` has, in the order they are declared.
pub fn permissions(role: Role) -> Vec<Permission> {
    use strum::VariantArray;
    Permission::VARIANTS
        .iter()
        .copied()
        .filter(|p| allows(role, *p))
        .collect()
}

/// 403 unless the caller's role has `permission`.
pub fn require(user: &AuthUser, permission: Permission) -> ApiResult<()> {
    if allows(user.role, permission) {
        Ok(())
    } else {
        Err(ApiError::forbidden(user.role, permission))
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

/// Which cases a caller may see: need-to-know, enforced in every case query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseScope {
    /// Admins and program managers.
    All,
    /// Case workers: the cases they are (currently) assigned to.
    AssignedTo(crate::ids::UserId),
}

/// The caller's case scope; 403 for roles that see no individual case (aftercare officers see
/// case summaries through their survivors, analysts aggregates, partners their referrals).
pub fn case_scope(user: &AuthUser) -> ApiResult<CaseScope> {
    require(user, Permission::ReadCases)?;
    match user.role {
        Role::Admin | Role::ProgramManager => Ok(CaseScope::All),
        Role::CaseWorker => Ok(CaseScope::AssignedTo(user.id)),
        // A role granted the permission without a scope here sees nothing rather than everything.
        _ => Err(ApiError::forbidden(user.role, Permission::ReadCases)),
    }
}

/// Which survivors a caller may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SurvivorScope {
    /// Admins and program managers.
    All,
    /// Aftercare officers: the survivors assigned to them.
    AssignedTo(crate::ids::UserId),
    /// Case workers: the survivors of their cases, by pseudonym and read-only.
    ThroughCasesOf(crate::ids::UserId),
}

/// The caller's survivor scope; 403 for analysts (aggregates only) and partners.
pub fn survivor_scope(user: &AuthUser) -> ApiResult<SurvivorScope> {
    require(user, Permission::ReadSurvivors)?;
    match user.role {
        Role::Admin | Role::ProgramManager => Ok(SurvivorScope::All),
        Role::AftercareOfficer => Ok(SurvivorScope::AssignedTo(user.id)),
        Role::CaseWorker => Ok(SurvivorScope::ThroughCasesOf(user.id)),
        // A role granted the permission without a scope here sees nothing rather than everything.
        _ => Err(ApiError::forbidden(user.role, Permission::ReadSurvivors)),
    }
}

/// May the caller work on a survivor's restoration (services, assessments, consents, closure)?
/// Case workers see survivors of their cases but do not run their restoration.
pub fn may_manage_restoration(user: &AuthUser) -> ApiResult<()> {
    require(user, Permission::ReadRestoration)
}

/// Identifying details: only admins and the survivor's assigned aftercare officer (whose
/// assignment the caller checks through the survivor scope).
pub fn may_read_identity(user: &AuthUser) -> ApiResult<()> {
    require(user, Permission::ReadIdentity)
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
            (
                Role::Admin,
                &[
                    ManageUsers,
                    ReadAuditLog,
                    ReadPartners,
                    ManagePartners,
                    ManageCaseTeams,
                    ReadCaseAccessLog,
                    ManageOffences,
                    ReadOffences,
                    ReadCases,
                    ReadSurvivors,
                    ReadRestoration,
                    ReadIdentity,
                    ReadTrainings,
                    ReadReferrals,
                    ReadIndicators,
                    ReadStats,
                    ReadAlerts,
                    ExportDeidentified,
                    UseApiKeys,
                    ManageIntegrations,
                    ManageWebhooks,
                ],
            ),
            (
                Role::ProgramManager,
                &[
                    ReadPartners,
                    CreateCases,
                    ChangeCases,
                    ManageCaseTeams,
                    CloseCases,
                    ReadCaseAccessLog,
                    ReadOffences,
                    ManageSurvivors,
                    ChangeRestoration,
                    ReadCases,
                    ReadSurvivors,
                    ReadRestoration,
                    ApproveClosures,
                    ReadTrainings,
                    RecordTrainings,
                    ReadReferrals,
                    SubmitReferrals,
                    TriageReferrals,
                    ReadIndicators,
                    SetIndicatorTargets,
                    ReadStats,
                    ReadAlerts,
                    UseApiKeys,
                    ManageWebhooks,
                ],
            ),
            (
                Role::CaseWorker,
                &[
                    ReadPartners,
                    CreateCases,
                    ChangeCases,
                    ReadOffences,
                    ReadCases,
                    ReadSurvivors,
                    ReadTrainings,
                    ReadReferrals,
                    SubmitReferrals,
                    TriageReferrals,
                    ReadAlerts,
                    UseApiKeys,
                ],
            ),
            (
                Role::AftercareOfficer,
                &[
                    ReadPartners,
                    ReadOffences,
                    ManageSurvivors,
                    ChangeRestoration,
                    WriteIdentity,
                    ReadSurvivors,
                    ReadRestoration,
                    ReadIdentity,
                    ReadTrainings,
                    ReadAlerts,
                    UseApiKeys,
                ],
            ),
            (
                Role::Analyst,
                &[
                    ReadPartners,
                    ReadOffences,
                    ReadTrainings,
                    RecordTrainings,
                    ReadIndicators,
                    SetIndicatorTargets,
                    ReadStats,
                    ExportDeidentified,
                    UseApiKeys,
                ],
            ),
            (
                Role::Partner,
                &[
                    ReadPartners,
                    ReadReferrals,
                    SubmitReferrals,
                    ReadStats,
                    UseApiKeys,
                    ManageWebhooks,
                ],
            ),
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
