//! Typed ids (UUIDv7) so that the id of one kind of record cannot be passed for another.

macro_rules! id_type {
    ($($(#[$meta:meta])* $name:ident),+ $(,)?) => {$(
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize, utoipa::ToSchema,
            diesel::expression::AsExpression, diesel::deserialize::FromSqlRow,
        )]
        #[serde(transparent)]
        #[schema(value_type = uuid::Uuid)]
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        pub struct $name(pub uuid::Uuid);

        impl $name {
            /// A new time-ordered id.
            pub fn new() -> Self {
                $name(uuid::Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl diesel::serialize::ToSql<diesel::sql_types::Uuid, diesel::pg::Pg> for $name {
            fn to_sql<'b>(&'b self, out: &mut diesel::serialize::Output<'b, '_, diesel::pg::Pg>) -> diesel::serialize::Result {
                <uuid::Uuid as diesel::serialize::ToSql<diesel::sql_types::Uuid, diesel::pg::Pg>>::to_sql(&self.0, out)
            }
        }

        impl diesel::deserialize::FromSql<diesel::sql_types::Uuid, diesel::pg::Pg> for $name {
            fn from_sql(bytes: diesel::pg::PgValue<'_>) -> diesel::deserialize::Result<Self> {
                <uuid::Uuid as diesel::deserialize::FromSql<diesel::sql_types::Uuid, diesel::pg::Pg>>::from_sql(bytes).map($name)
            }
        }
    )+};
}

id_type!(
    /// Id of a user account.
    UserId,
    /// Id of a document of a case or a survivor.
    DocumentId,
    /// Id of a partner organisation.
    PartnerId,
    /// Id of a referral from a partner organisation.
    ReferralId,
    /// Id of an indicator target.
    IndicatorTargetId,
    /// Id of a case.
    CaseId,
    /// Id of a timeline event of a case.
    EventId,
    /// Id of an assignment of a user to a case.
    AssignmentId,
    /// Id of a suspect.
    SuspectId,
    /// Id of a charge against a suspect.
    ChargeId,
    /// Id of a court session.
    CourtSessionId,
    /// Id of a survivor (pseudonymous record).
    SurvivorId,
    /// Id of an assignment of a user to a survivor.
    SurvivorAssignmentId,
    /// Id of a consent.
    ConsentId,
    /// Id of a restoration service.
    ServiceId,
    /// Id of a session of a service.
    ServiceSessionId,
    /// Id of an assessment.
    AssessmentId,
    /// Id of a closure of a survivor's restoration.
    ClosureId,
    /// Id of a request awaiting a program manager's approval.
    ApprovalId,
    /// Id of a training, mentoring visit or sensitisation session.
    TrainingId,
    /// Id of a follow-up.
    FollowUpId,
    /// Id of an API key.
    ApiKeyId,
);
