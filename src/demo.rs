//! `haki seed-demo`: a small, fully fictional dataset that tells the program's story — a case that
//! stalled for five months before the arrest, a facilitating caregiver with no trafficking charge,
//! a trial adjourned again and again — so every feature shows at once in Swagger UI.
//! Names are invented; survivors appear by pseudonym, and the two identities in the vault are
//! fictional. Two investigators and two counsellors, each on part of the records only, show
//! need-to-know: every demo account sees a different world.

use chrono::{Duration, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::{
    audit::AuditEvent,
    auth::Role,
    cases::{
        self,
        models::{
            AssignmentRole, AssignmentRow, CaseChanges, ClosureReason, EventKind, EventRow, ExploitationType,
            LocationType, NewCase, ReferralSource, RiskLevel, Stage,
        },
    },
    db::schema::partners,
    ids::{
        AssessmentId, AssignmentId, CaseId, ChargeId, ClosureId, ConsentId, CourtSessionId, FollowUpId, PartnerId,
        ServiceId, ServiceSessionId, SurvivorAssignmentId, SurvivorId, SuspectId, UserId,
    },
    partners::models::{NewPartner, PartnerKind},
    prosecution::{
        self,
        models::{
            AdjournmentReason, ChargeRow, ChargeStatus, CourtSessionRow, Relationship, SessionPurpose, SessionStatus,
            Sex, SuspectRole, SuspectRow, SuspectStatus,
        },
    },
    restoration::{
        self,
        dto::tenths,
        models::{
            AssessmentKind, AssessmentRow, ClosureRow, ConsentPurpose, ConsentRow, FollowUpRow, FollowUpStatus,
            GivenBy, ServiceRow, ServiceStatus, SessionRow,
        },
    },
    survivors::vault::Vault,
    survivors::{
        self,
        models::{
            CaseLinkRow, CaseRole, Placement, RestorationStatus, Schooling, SurvivorAssignmentRole,
            SurvivorAssignmentRow, SurvivorChanges, SurvivorClosureReason, SurvivorRow,
        },
    },
    users::{self, models::NewUser},
    vocab::{County, ServiceKind},
};

pub const DEMO_ORG: &str = "Bahari Community Justice Centre (demo)";

pub struct Summary {
    pub users: Vec<(String, Role)>,
    pub cases: Vec<String>,
}

fn ago(days: i64) -> NaiveDate {
    crate::vocab::today() - Duration::days(days)
}

/// What `seed` did.
pub enum Seeded {
    Loaded(Summary),
    /// The demo data is there already.
    AlreadyLoaded,
    /// The database holds records that are not the demo's (what they are, in words): fictional
    /// children must not be mixed into a real program's data.
    Refused(String),
}

/// Loads the demo data unless it is already there, or unless the database holds other data and
/// `force` is not given.
pub async fn seed(
    conn: &mut AsyncPgConnection,
    password_hash: &str,
    vault: &Vault,
    force: bool,
) -> QueryResult<Seeded> {
    let present: i64 = partners::table
        .filter(partners::name.eq(DEMO_ORG))
        .count()
        .get_result(conn)
        .await?;
    if present > 0 {
        return Ok(Seeded::AlreadyLoaded);
    }
    if !force {
        use crate::db::schema::{cases, survivors, users};
        let people: i64 = users::table.count().get_result(conn).await?;
        let records: i64 = cases::table.count().get_result(conn).await?;
        let children: i64 = survivors::table.count().get_result(conn).await?;
        let organisations: i64 = partners::table.count().get_result(conn).await?;
        if people + records + children + organisations > 0 {
            return Ok(Seeded::Refused(format!(
                "{people} users, {organisations} partners, {records} cases and {children} survivors"
            )));
        }
    }
    conn.transaction(async |conn| load(conn, password_hash, vault).await)
        .await
        .map(Seeded::Loaded)
}

async fn partner(
    conn: &mut AsyncPgConnection,
    name: &str,
    kind: PartnerKind,
    counties: Vec<County>,
    services: Vec<ServiceKind>,
) -> QueryResult<PartnerId> {
    let row = crate::partners::queries::insert(
        conn,
        &NewPartner {
            id: PartnerId::new(),
            name: name.into(),
            kind,
            counties,
            contact_name: None,
            contact_email: None,
            contact_phone: None,
            services_offered: services,
            mou_signed_on: Some(ago(700)),
            mou_expires_on: Some(ago(-400)),
            active: true,
            notes: Some("Fictional organisation for the demo.".into()),
        },
    )
    .await?;
    Ok(row.id)
}

async fn user(
    conn: &mut AsyncPgConnection,
    email: &str,
    name: &str,
    role: Role,
    org: Option<PartnerId>,
    hash: &str,
) -> QueryResult<UserId> {
    let id = UserId::new();
    users::queries::insert(
        conn,
        &NewUser {
            id,
            email,
            display_name: name,
            password_hash: hash,
            role,
            organization_id: org,
        },
    )
    .await?;
    Ok(id)
}

struct CaseSpec {
    county: County,
    sub_county: &'static str,
    location: LocationType,
    reported: i64,
    incident: i64,
    risk: RiskLevel,
    summary: &'static str,
    /// The partner organisation that referred the case, if one did.
    partner: Option<PartnerId>,
}

async fn open_case(
    conn: &mut AsyncPgConnection,
    spec: CaseSpec,
    by: UserId,
    team: &[(UserId, AssignmentRole)],
) -> QueryResult<(CaseId, String)> {
    let id = CaseId::new();
    let reported_on = ago(spec.reported);
    let reference = cases::queries::next_reference(conn, spec.county, chrono::Datelike::year(&reported_on)).await?;
    cases::queries::insert(
        conn,
        &NewCase {
            id,
            reference: reference.clone(),
            county: spec.county,
            sub_county: Some(spec.sub_county.into()),
            location_type: spec.location,
            exploitation_types: vec![ExploitationType::SexualExploitationInProstitution],
            reported_on,
            incident_on: Some(ago(spec.incident)),
            referral_source: Some(ReferralSource::CommunityJusticeCentre),
            referral_partner_id: spec.partner,
            risk_level: spec.risk,
            summary: Some(spec.summary.into()),
            last_activity_on: reported_on,
            created_by: Some(by),
        },
    )
    .await?;
    let mut opened = EventRow::new(id, EventKind::StageChange, reported_on, Some("Case opened".into()), by);
    opened.stage_to = Some(Stage::Reported);
    cases::queries::insert_event(conn, &opened).await?;
    for (user, role) in team {
        cases::queries::insert_assignment(
            conn,
            &AssignmentRow {
                id: AssignmentId::new(),
                case_id: id,
                user_id: *user,
                role: *role,
                assigned_by: Some(by),
                assigned_at: Utc::now(),
                ended_at: None,
                ended_by: None,
            },
        )
        .await?;
    }
    Ok((id, reference))
}

async fn event(
    conn: &mut AsyncPgConnection,
    case: CaseId,
    kind: EventKind,
    days: i64,
    note: &str,
    by: UserId,
) -> QueryResult<()> {
    cases::queries::insert_event(conn, &EventRow::new(case, kind, ago(days), Some(note.into()), by))
        .await
        .map(|_| ())
}

async fn move_to(
    conn: &mut AsyncPgConnection,
    case: CaseId,
    from: Stage,
    to: Stage,
    days: i64,
    by: UserId,
    closure: Option<ClosureReason>,
) -> QueryResult<()> {
    cases::queries::update(
        conn,
        case,
        &CaseChanges {
            stage: Some(to),
            closure_reason: closure.map(Some),
            closed_on: closure.map(|_| Some(ago(days))),
            ..Default::default()
        },
    )
    .await?;
    let mut e = EventRow::new(case, EventKind::StageChange, ago(days), None, by);
    e.stage_from = Some(from);
    e.stage_to = Some(to);
    cases::queries::insert_event(conn, &e).await.map(|_| ())
}

#[allow(clippy::too_many_arguments)]
async fn suspect(
    conn: &mut AsyncPgConnection,
    case: CaseId,
    name: &str,
    sex: Sex,
    role: SuspectRole,
    relationship: Relationship,
    nationality: &str,
    arrested: Option<i64>,
    status: SuspectStatus,
) -> QueryResult<SuspectId> {
    let now = Utc::now();
    let row = prosecution::queries::insert_suspect(
        conn,
        &SuspectRow {
            id: SuspectId::new(),
            case_id: case,
            name: name.into(),
            sex: Some(sex),
            role,
            relationship,
            nationality: Some(nationality.into()),
            status,
            arrested_on: arrested.map(ago),
            notes: None,
            version: 1,
            created_at: now,
            updated_at: now,
        },
    )
    .await?;
    Ok(row.id)
}

async fn charge(
    conn: &mut AsyncPgConnection,
    case: CaseId,
    suspect: SuspectId,
    code: &str,
    filed: i64,
    decided: Option<(i64, ChargeStatus, i32)>,
) -> QueryResult<()> {
    let now = Utc::now();
    prosecution::queries::insert_charge(
        conn,
        &ChargeRow {
            id: ChargeId::new(),
            suspect_id: suspect,
            case_id: case,
            offence_code: code.into(),
            court_file_number: Some(format!(
                "SO {}/{}",
                10 + filed % 90,
                chrono::Datelike::year(&ago(filed))
            )),
            filed_on: ago(filed),
            status: decided.map(|d| d.1).unwrap_or(ChargeStatus::Filed),
            sentence_years: decided.map(|d| d.2),
            sentence_life: false,
            fine_amount_minor: None,
            fine_currency: None,
            decided_on: decided.map(|d| ago(d.0)),
            version: 1,
            created_at: now,
            updated_at: now,
        },
    )
    .await
    .map(|_| ())
}

async fn session(
    conn: &mut AsyncPgConnection,
    case: CaseId,
    court: &str,
    days: i64,
    purpose: SessionPurpose,
    status: SessionStatus,
    adjourned: Option<AdjournmentReason>,
) -> QueryResult<()> {
    let now = Utc::now();
    let held = status != SessionStatus::Scheduled;
    prosecution::queries::insert_session(
        conn,
        &CourtSessionRow {
            id: CourtSessionId::new(),
            case_id: case,
            court: court.into(),
            scheduled_on: ago(days),
            purpose,
            status,
            adjournment_reason: adjourned,
            survivor_attended: held.then_some(purpose == SessionPurpose::SurvivorTestimony),
            survivor_accompanied: held.then_some(true),
            intermediary_used: held.then_some(purpose == SessionPurpose::SurvivorTestimony),
            support_cost_minor: held.then_some(350_000),
            support_cost_currency: held.then(|| "KES".to_string()),
            notes: None,
            version: 1,
            created_at: now,
            updated_at: now,
        },
    )
    .await?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn survivor(
    conn: &mut AsyncPgConnection,
    pseudonym: &str,
    age: i32,
    intake: i64,
    county: County,
    placement: Placement,
    caregiver_implicated: bool,
    counsellor: UserId,
) -> QueryResult<SurvivorId> {
    let now = Utc::now();
    let row = survivors::queries::insert(
        conn,
        &SurvivorRow {
            id: SurvivorId::new(),
            pseudonym: pseudonym.into(),
            sex: Some(Sex::Female),
            birth_year: None,
            age_at_intake: Some(age),
            intake_on: ago(intake),
            has_disability: false,
            disability_notes: None,
            county: Some(county),
            placement: Some(placement),
            caregiver_implicated,
            schooling: Some(Schooling::Primary),
            survivor_network_member: intake > 365,
            citizenship: Some("KE".into()),
            restoration_status: RestorationStatus::Active,
            closed_on: None,
            closure_reason: None,
            version: 1,
            created_at: now,
            updated_at: now,
        },
    )
    .await?;
    survivors::queries::assign(
        conn,
        &SurvivorAssignmentRow {
            id: SurvivorAssignmentId::new(),
            survivor_id: row.id,
            user_id: counsellor,
            role: SurvivorAssignmentRole::Counsellor,
            assigned_by: None,
            assigned_at: now,
            ended_at: None,
            ended_by: None,
        },
    )
    .await?;
    Ok(row.id)
}

/// A fictional identity in the vault, so that the identity endpoints show something.
async fn identity(
    conn: &mut AsyncPgConnection,
    vault: &Vault,
    survivor: SurvivorId,
    legal_name: &str,
    address: &str,
    by: UserId,
) -> QueryResult<()> {
    let identity = survivors::dto::Identity {
        legal_name: legal_name.into(),
        other_names: None,
        date_of_birth: None,
        guardian_name: Some("Demo Guardian (fictional)".into()),
        guardian_relationship: Some("grandmother".into()),
        guardian_phone: None,
        phone: None,
        address: Some(address.into()),
        notes: Some("Fictional identity for the demo.".into()),
    };
    let fail = |e: Box<dyn std::error::Error + Send + Sync>| diesel::result::Error::QueryBuilderError(e);
    let plain = serde_json::to_vec(&identity).map_err(|e| fail(e.into()))?;
    let sealed = vault.seal(survivor, &plain).map_err(|e| fail(e.into()))?;
    survivors::queries::put_identity(conn, survivor, &sealed.key_id, &sealed.nonce, &sealed.ciphertext, by).await?;
    AuditEvent::operator("survivor.identity_write", "survivor", survivor)
        .details(serde_json::json!({"via": "seed-demo"}))
        .record(conn)
        .await
}

async fn link(
    conn: &mut AsyncPgConnection,
    case: CaseId,
    survivor: SurvivorId,
    role: CaseRole,
    by: UserId,
) -> QueryResult<()> {
    survivors::queries::link_case(
        conn,
        &CaseLinkRow {
            case_id: case,
            survivor_id: survivor,
            role,
            linked_by: Some(by),
            linked_at: Utc::now(),
        },
    )
    .await
    .map(|_| ())
}

async fn assess(
    conn: &mut AsyncPgConnection,
    survivor: SurvivorId,
    kind: AssessmentKind,
    days: i64,
    s: [f64; 6],
    by: UserId,
) -> QueryResult<()> {
    restoration::queries::insert_assessment(
        conn,
        &AssessmentRow {
            id: AssessmentId::new(),
            survivor_id: survivor,
            kind,
            assessed_on: ago(days),
            safety: tenths(s[0]),
            legal_protection: tenths(s[1]),
            mental_wellbeing: tenths(s[2]),
            economic_empowerment_education: tenths(s[3]),
            social_support: tenths(s[4]),
            physical_wellbeing: tenths(s[5]),
            notes: None,
            recorded_by: Some(by),
            created_at: Utc::now(),
        },
    )
    .await
    .map(|_| ())
}

#[allow(clippy::too_many_arguments)]
async fn service(
    conn: &mut AsyncPgConnection,
    survivor: SurvivorId,
    kind: ServiceKind,
    status: ServiceStatus,
    start: i64,
    end: Option<i64>,
    cost_kes_cents: Option<i64>,
    by: UserId,
    sessions: &[i64],
) -> QueryResult<()> {
    let now = Utc::now();
    let row = restoration::queries::insert_service(
        conn,
        &ServiceRow {
            id: ServiceId::new(),
            survivor_id: survivor,
            kind,
            provider_partner_id: None,
            status,
            start_on: Some(ago(start)),
            end_on: end.map(ago),
            cost_minor: cost_kes_cents,
            cost_currency: cost_kes_cents.map(|_| "KES".to_string()),
            notes: None,
            version: 1,
            created_at: now,
            updated_at: now,
        },
    )
    .await?;
    for days in sessions {
        restoration::queries::insert_session(
            conn,
            &SessionRow {
                id: ServiceSessionId::new(),
                service_id: row.id,
                held_on: ago(*days),
                minutes: Some(60),
                notes: None,
                recorded_by: Some(by),
                created_at: now,
            },
        )
        .await?;
    }
    Ok(())
}

async fn consent(
    conn: &mut AsyncPgConnection,
    survivor: SurvivorId,
    purpose: ConsentPurpose,
    days: i64,
    by: UserId,
) -> QueryResult<()> {
    restoration::queries::insert_consent(
        conn,
        &ConsentRow {
            id: ConsentId::new(),
            survivor_id: survivor,
            purpose,
            given_by: GivenBy::Guardian,
            guardian_relationship: Some("grandmother".into()),
            child_assent: Some(true),
            given_on: ago(days),
            expires_on: None,
            recipients: Vec::new(),
            notes: None,
            withdrawn_at: None,
            withdrawn_reason: None,
            recorded_by: Some(by),
            created_at: Utc::now(),
            version: 1,
        },
    )
    .await
    .map(|_| ())
}

/// Closed as restored `days` ago; the follow-up two years later falls due soon.
async fn close(conn: &mut AsyncPgConnection, survivor: SurvivorId, days: i64, by: UserId) -> QueryResult<()> {
    let now = Utc::now();
    let closed_on = ago(days);
    let closure = restoration::queries::insert_closure(
        conn,
        &ClosureRow {
            id: ClosureId::new(),
            survivor_id: survivor,
            closed_on,
            reason: SurvivorClosureReason::Restored,
            note: Some("All six domains at 3.0 or above; back in school.".into()),
            closed_by: Some(by),
            reopened_on: None,
            reopen_reason: None,
            reopened_by: None,
            created_at: now,
        },
    )
    .await?;
    restoration::queries::insert_follow_up(
        conn,
        &FollowUpRow {
            id: FollowUpId::new(),
            survivor_id: survivor,
            closure_id: Some(closure.id),
            due_on: closed_on
                .checked_add_months(chrono::Months::new(24))
                .unwrap_or(closed_on),
            status: FollowUpStatus::Scheduled,
            conducted_on: None,
            outcome: None,
            notes: None,
            assessment_id: None,
            recorded_by: Some(by),
            created_at: now,
            updated_at: now,
        },
    )
    .await?;
    survivors::queries::update(
        conn,
        survivor,
        &SurvivorChanges {
            restoration_status: Some(RestorationStatus::Closed),
            closed_on: Some(Some(closed_on)),
            closure_reason: Some(Some(SurvivorClosureReason::Restored)),
            ..Default::default()
        },
    )
    .await
    .map(|_| ())
}

async fn load(conn: &mut AsyncPgConnection, hash: &str, vault: &Vault) -> QueryResult<Summary> {
    use AssignmentRole::*;
    let cjc = partner(
        conn,
        DEMO_ORG,
        PartnerKind::CommunityJusticeCentre,
        vec![County::Kilifi, County::Mombasa],
        vec![ServiceKind::LegalSupport, ServiceKind::CourtAccompaniment],
    )
    .await?;
    let shelter = partner(
        conn,
        "Pwani Safe House (demo)",
        PartnerKind::Shelter,
        vec![County::Mombasa],
        vec![ServiceKind::Shelter, ServiceKind::TraumaCounselling],
    )
    .await?;
    partner(
        conn,
        "Coast Legal Aid Network (demo)",
        PartnerKind::Ngo,
        vec![County::Mombasa, County::Kwale, County::Kilifi],
        vec![ServiceKind::LegalSupport],
    )
    .await?;

    let people = [
        ("admin@haki.demo", "Demo Admin", Role::Admin, None),
        (
            "manager@haki.demo",
            "Achieng Otieno (program manager)",
            Role::ProgramManager,
            None,
        ),
        (
            "investigator@haki.demo",
            "Juma Mwangi (investigator)",
            Role::CaseWorker,
            None,
        ),
        ("lawyer@haki.demo", "Fatuma Said (lawyer)", Role::CaseWorker, None),
        (
            "aftercare@haki.demo",
            "Grace Wanjiku (counsellor)",
            Role::AftercareOfficer,
            None,
        ),
        (
            "investigator2@haki.demo",
            "Omari Hassan (investigator, Mombasa)",
            Role::CaseWorker,
            None,
        ),
        (
            "aftercare2@haki.demo",
            "Rehema Njeri (counsellor, Mombasa)",
            Role::AftercareOfficer,
            None,
        ),
        ("analyst@haki.demo", "Peter Kamau (M&E)", Role::Analyst, None),
        ("partner@haki.demo", "Bahari CJC intake desk", Role::Partner, Some(cjc)),
    ];
    let mut ids = Vec::new();
    for (email, name, role, org) in people {
        ids.push(user(conn, email, name, role, org, hash).await?);
    }
    let (manager, investigator, lawyer) = (ids[1], ids[2], ids[3]);
    let (mombasa_investigator, mombasa_counsellor) = (ids[5], ids[6]);
    // Need-to-know shows in the demo: the Kilifi/Kwale team does not see the Mombasa case, and
    // each counsellor sees only her own survivors.
    let team = [(investigator, LeadInvestigator), (lawyer, LeadAttorney)];
    let mombasa_team = [(mombasa_investigator, LeadInvestigator), (lawyer, LeadAttorney)];
    let mut refs = Vec::new();

    // 1. Kilifi: a girl of 14 sold by her aunt to a tourist in a holiday villa. Reported almost two
    //    years ago; nothing moved for five months until the justice centre escalated; the tourist is
    //    charged with defilement, the aunt (a facilitator) with nothing under the CTIP Act yet.
    let (kilifi, r) = open_case(conn, CaseSpec {
        county: County::Kilifi, sub_county: "malindi", location: LocationType::VillaShortTermRental,
        reported: 700, incident: 710, risk: RiskLevel::High,
        summary: "Survivor (pseudonym Neema, 14) taken to a holiday villa by her aunt, who was paid by a foreign visitor. Promised school fees.",
        partner: Some(cjc),
    }, manager, &team).await?;
    refs.push(r);
    event(
        conn,
        kilifi,
        EventKind::ReportedToPolice,
        699,
        "Statement recorded at Malindi police station.",
        investigator,
    )
    .await?;
    move_to(
        conn,
        kilifi,
        Stage::Reported,
        Stage::Investigation,
        695,
        investigator,
        None,
    )
    .await?;
    event(
        conn,
        kilifi,
        EventKind::PoliceFollowUp,
        640,
        "Investigating officer says the file is with the DCI; suspect still at large.",
        investigator,
    )
    .await?;
    event(
        conn,
        kilifi,
        EventKind::PoliceFollowUp,
        600,
        "No progress; suspect seen in Watamu.",
        investigator,
    )
    .await?;
    event(
        conn,
        kilifi,
        EventKind::Escalation,
        560,
        "Escalated to the county police commander by the justice centre.",
        investigator,
    )
    .await?;
    let tourist = suspect(
        conn,
        kilifi,
        "Visitor 'Hans' (alias)",
        Sex::Male,
        SuspectRole::Customer,
        Relationship::Tourist,
        "DE",
        Some(545),
        SuspectStatus::Remanded,
    )
    .await?;
    let aunt = suspect(
        conn,
        kilifi,
        "Aunt of the survivor",
        Sex::Female,
        SuspectRole::Recruiter,
        Relationship::Caregiver,
        "KE",
        Some(545),
        SuspectStatus::ReleasedOnBail,
    )
    .await?;
    event(
        conn,
        kilifi,
        EventKind::Arrest,
        545,
        "Both suspects arrested, five months after the report.",
        investigator,
    )
    .await?;
    move_to(
        conn,
        kilifi,
        Stage::Investigation,
        Stage::SuspectArrested,
        545,
        investigator,
        None,
    )
    .await?;
    charge(conn, kilifi, tourist, "soa-8-3", 540, None).await?;
    charge(conn, kilifi, aunt, "soa-12", 540, None).await?;
    event(
        conn,
        kilifi,
        EventKind::ChargeFiled,
        540,
        "Defilement (s.8(3)) and promotion of sexual offences (s.12).",
        lawyer,
    )
    .await?;
    move_to(conn, kilifi, Stage::SuspectArrested, Stage::Charged, 540, lawyer, None).await?;
    move_to(conn, kilifi, Stage::Charged, Stage::Trial, 500, lawyer, None).await?;
    let court = "Malindi Law Courts";
    session(
        conn,
        kilifi,
        court,
        500,
        SessionPurpose::Plea,
        SessionStatus::Held,
        None,
    )
    .await?;
    session(
        conn,
        kilifi,
        court,
        430,
        SessionPurpose::Mention,
        SessionStatus::Held,
        None,
    )
    .await?;
    session(
        conn,
        kilifi,
        court,
        360,
        SessionPurpose::Hearing,
        SessionStatus::Adjourned,
        Some(AdjournmentReason::ProsecutionNotReady),
    )
    .await?;
    session(
        conn,
        kilifi,
        court,
        290,
        SessionPurpose::SurvivorTestimony,
        SessionStatus::Held,
        None,
    )
    .await?;
    session(
        conn,
        kilifi,
        court,
        200,
        SessionPurpose::Hearing,
        SessionStatus::Adjourned,
        Some(AdjournmentReason::MagistrateAbsent),
    )
    .await?;
    session(
        conn,
        kilifi,
        court,
        120,
        SessionPurpose::DefenceHearing,
        SessionStatus::Adjourned,
        Some(AdjournmentReason::DefenceNotReady),
    )
    .await?;
    session(
        conn,
        kilifi,
        court,
        40,
        SessionPurpose::DefenceHearing,
        SessionStatus::Held,
        None,
    )
    .await?;
    session(
        conn,
        kilifi,
        court,
        -5,
        SessionPurpose::Hearing,
        SessionStatus::Scheduled,
        None,
    )
    .await?;
    for (days, note) in [
        (500, "Plea taken; both pleaded not guilty."),
        (360, "Adjourned: prosecution not ready."),
        (
            290,
            "Survivor testified with an intermediary; accompanied by her counsellor.",
        ),
        (200, "Adjourned: magistrate on transfer."),
        (120, "Adjourned: defence not ready."),
        (20, "Defence hearing held."),
    ] {
        event(conn, kilifi, EventKind::CourtSession, days, note, lawyer).await?;
    }

    // 2. Mombasa: a report about a beach hotel, stalled with the police for six weeks.
    let (mombasa, r) = open_case(conn, CaseSpec {
        county: County::Mombasa, sub_county: "nyali", location: LocationType::Hotel,
        reported: 50, incident: 55, risk: RiskLevel::Critical,
        summary: "Two girls (pseudonyms Imani and Zawadi) seen with an agent at a beach hotel; agent known to the community.",
        partner: None,
    }, manager, &mombasa_team).await?;
    refs.push(r);
    move_to(
        conn,
        mombasa,
        Stage::Reported,
        Stage::Investigation,
        45,
        mombasa_investigator,
        None,
    )
    .await?;
    suspect(
        conn,
        mombasa,
        "Agent known as 'Baraka'",
        Sex::Male,
        SuspectRole::Agent,
        Relationship::Acquaintance,
        "KE",
        None,
        SuspectStatus::AtLarge,
    )
    .await?;

    // 3. Kwale: closed with a conviction.
    let (kwale, r) = open_case(
        conn,
        CaseSpec {
            county: County::Kwale,
            sub_county: "msambweni",
            location: LocationType::PrivateHome,
            reported: 1300,
            incident: 1310,
            risk: RiskLevel::Medium,
            summary: "Survivor (pseudonym Subira, 15) exploited in a private home by a neighbour.",
            partner: None,
        },
        manager,
        &team,
    )
    .await?;
    refs.push(r);
    move_to(
        conn,
        kwale,
        Stage::Reported,
        Stage::Investigation,
        1295,
        investigator,
        None,
    )
    .await?;
    let neighbour = suspect(
        conn,
        kwale,
        "Neighbour",
        Sex::Male,
        SuspectRole::Exploiter,
        Relationship::Neighbour,
        "KE",
        Some(1280),
        SuspectStatus::Convicted,
    )
    .await?;
    move_to(
        conn,
        kwale,
        Stage::Investigation,
        Stage::SuspectArrested,
        1280,
        investigator,
        None,
    )
    .await?;
    charge(
        conn,
        kwale,
        neighbour,
        "soa-8-3",
        1275,
        Some((400, ChargeStatus::Convicted, 20)),
    )
    .await?;
    move_to(conn, kwale, Stage::SuspectArrested, Stage::Charged, 1275, lawyer, None).await?;
    move_to(conn, kwale, Stage::Charged, Stage::Trial, 1200, lawyer, None).await?;
    move_to(conn, kwale, Stage::Trial, Stage::Judgment, 400, lawyer, None).await?;
    event(
        conn,
        kwale,
        EventKind::Verdict,
        400,
        "Convicted of defilement; sentenced to 20 years.",
        lawyer,
    )
    .await?;
    move_to(
        conn,
        kwale,
        Stage::Judgment,
        Stage::Closed,
        380,
        manager,
        Some(ClosureReason::Convicted),
    )
    .await?;

    // Survivors in restoration at different stages: Neema and Subira followed by one counsellor,
    // Imani and Zawadi (Mombasa) by the other.
    let counsellor = ids[4];
    let neema = survivor(
        conn,
        "Neema",
        14,
        690,
        County::Kilifi,
        Placement::BoardingSchool,
        true,
        counsellor,
    )
    .await?;
    link(conn, kilifi, neema, CaseRole::VictimWitness, manager).await?;
    assess(
        conn,
        neema,
        AssessmentKind::Intake,
        688,
        [1.5, 1.8, 1.6, 2.0, 2.2, 2.5],
        counsellor,
    )
    .await?;
    assess(
        conn,
        neema,
        AssessmentKind::SixMonth,
        505,
        [2.4, 2.6, 2.2, 2.9, 2.8, 3.0],
        counsellor,
    )
    .await?;
    assess(
        conn,
        neema,
        AssessmentKind::Annual,
        320,
        [3.0, 2.8, 2.7, 3.2, 3.1, 3.3],
        counsellor,
    )
    .await?;
    service(
        conn,
        neema,
        ServiceKind::TraumaCounselling,
        ServiceStatus::Active,
        685,
        None,
        None,
        counsellor,
        &[30, 60, 120],
    )
    .await?;
    service(
        conn,
        neema,
        ServiceKind::Education,
        ServiceStatus::Active,
        400,
        None,
        Some(4_500_000),
        counsellor,
        &[],
    )
    .await?;
    service(
        conn,
        neema,
        ServiceKind::CourtAccompaniment,
        ServiceStatus::Active,
        500,
        None,
        Some(350_000),
        counsellor,
        &[290],
    )
    .await?;
    consent(conn, neema, ConsentPurpose::Services, 688, counsellor).await?;

    let subira = survivor(
        conn,
        "Subira",
        15,
        1290,
        County::Kwale,
        Placement::Family,
        false,
        counsellor,
    )
    .await?;
    link(conn, kwale, subira, CaseRole::VictimWitness, manager).await?;
    assess(
        conn,
        subira,
        AssessmentKind::Intake,
        1288,
        [1.8, 2.0, 1.9, 2.1, 2.4, 2.6],
        counsellor,
    )
    .await?;
    assess(
        conn,
        subira,
        AssessmentKind::Annual,
        920,
        [2.8, 3.0, 2.9, 2.7, 3.1, 3.2],
        counsellor,
    )
    .await?;
    assess(
        conn,
        subira,
        AssessmentKind::Closure,
        730,
        [3.4, 3.5, 3.2, 3.1, 3.6, 3.5],
        counsellor,
    )
    .await?;
    service(
        conn,
        subira,
        ServiceKind::Livelihood,
        ServiceStatus::Completed,
        1000,
        Some(760),
        Some(2_000_000),
        counsellor,
        &[900, 800],
    )
    .await?;
    consent(conn, subira, ConsentPurpose::Services, 1288, counsellor).await?;
    close(conn, subira, 710, counsellor).await?;

    for (name, age) in [("Imani", 13), ("Zawadi", 16)] {
        let id = survivor(
            conn,
            name,
            age,
            48,
            County::Mombasa,
            Placement::Shelter,
            false,
            mombasa_counsellor,
        )
        .await?;
        link(conn, mombasa, id, CaseRole::Victim, manager).await?;
        assess(
            conn,
            id,
            AssessmentKind::Intake,
            47,
            [1.4, 1.5, 1.3, 1.8, 1.6, 2.0],
            mombasa_counsellor,
        )
        .await?;
        service(
            conn,
            id,
            ServiceKind::Shelter,
            ServiceStatus::Active,
            48,
            None,
            None,
            mombasa_counsellor,
            &[],
        )
        .await?;
        if name == "Imani" {
            identity(
                conn,
                vault,
                id,
                "Imani Demo-Mwende",
                "Likoni, Mombasa (fictional)",
                mombasa_counsellor,
            )
            .await?;
        }
    }
    identity(
        conn,
        vault,
        neema,
        "Neema Demo-Kahindi",
        "Gede, Kilifi (fictional)",
        counsellor,
    )
    .await?;

    // A year of trainings and mentoring, organised with the justice centre.
    use crate::trainings::models::{Audience::*, TrainingFormat, TrainingTopic};
    let trainings = [
        (
            "CSEC identification for police officers",
            TrainingFormat::Workshop,
            vec![
                TrainingTopic::CsecIdentification,
                TrainingTopic::VictimSensitiveInvestigation,
            ],
            300,
            County::Kilifi,
            "Malindi police station",
            vec![(Police, 6, 14), (ChildrenOfficers, 2, 1)],
            (48.0, 76.5),
        ),
        (
            "Trauma-informed care for church and media actors",
            TrainingFormat::CommunitySensitisation,
            vec![TrainingTopic::TraumaInformedCare, TrainingTopic::MediaReporting],
            180,
            County::Mombasa,
            "Likoni community hall",
            vec![(FaithLeaders, 9, 7), (Media, 4, 3)],
            (55.0, 71.0),
        ),
        (
            "The Counter-Trafficking in Persons Act for prosecutors",
            TrainingFormat::Workshop,
            vec![TrainingTopic::CtipAct, TrainingTopic::Prosecution],
            260,
            County::Mombasa,
            "Mombasa law courts (training room)",
            vec![(Prosecutors, 5, 4), (Judiciary, 1, 1)],
            (52.0, 80.0),
        ),
        (
            "Mentoring visit: victim-sensitive interviews at Diani",
            TrainingFormat::MentoringVisit,
            vec![TrainingTopic::VictimSensitiveInvestigation],
            220,
            County::Kwale,
            "Diani police station (gender desk)",
            vec![(Police, 2, 4)],
            (58.0, 70.0),
        ),
        (
            "Spotting and reporting exploitation: teachers and parents",
            TrainingFormat::CommunitySensitisation,
            vec![TrainingTopic::CsecIdentification, TrainingTopic::ReportingAndReferral],
            150,
            County::Kilifi,
            "Watamu primary school",
            vec![(Teachers, 12, 8), (Community, 20, 15)],
            (40.0, 66.0),
        ),
        (
            "Case management support to the children's office",
            TrainingFormat::TechnicalAssistance,
            vec![TrainingTopic::CaseManagement, TrainingTopic::ReportingAndReferral],
            120,
            County::Kilifi,
            "Kilifi children's office",
            vec![(ChildrenOfficers, 3, 2), (SocialWorkers, 4, 1)],
            (62.0, 75.0),
        ),
        (
            "Reporting on child survivors without exposing them",
            TrainingFormat::Workshop,
            vec![TrainingTopic::MediaReporting],
            90,
            County::Mombasa,
            "Mombasa press centre",
            vec![(Media, 6, 5)],
            (45.0, 72.0),
        ),
        (
            "Trauma-informed care for health workers (post-rape care)",
            TrainingFormat::Workshop,
            vec![TrainingTopic::TraumaInformedCare],
            60,
            County::Kwale,
            "Msambweni county referral hospital",
            vec![(HealthWorkers, 10, 3)],
            (50.0, 78.5),
        ),
        (
            "Mentoring visit: handling a child survivor's statement",
            TrainingFormat::MentoringVisit,
            vec![TrainingTopic::VictimSensitiveInvestigation],
            40,
            County::Kilifi,
            "Malindi police station (gender desk)",
            vec![(Police, 2, 3)],
            (60.0, 74.0),
        ),
        (
            "Mentoring visit: child-friendly hearings at the Malindi law courts",
            TrainingFormat::MentoringVisit,
            vec![TrainingTopic::Prosecution, TrainingTopic::TraumaInformedCare],
            15,
            County::Kilifi,
            "Malindi law courts",
            vec![(Judiciary, 1, 2), (Prosecutors, 1, 1)],
            (64.0, 77.0),
        ),
    ];
    for (title, format, topics, days, county, venue, people, (pre, post)) in trainings {
        let participants: Vec<serde_json::Value> = people
            .into_iter()
            .map(|(audience, female, male)| serde_json::json!({"audience": audience, "female": female, "male": male}))
            .collect();
        let now = Utc::now();
        crate::trainings::queries::insert(
            conn,
            &crate::trainings::models::TrainingRow {
                id: crate::ids::TrainingId::new(),
                title: title.into(),
                format,
                topics,
                starts_on: ago(days),
                ends_on: ago(days),
                county,
                venue: Some(venue.into()),
                organising_partner_id: Some(cjc),
                institutions: vec![venue.into()],
                participants: serde_json::Value::Array(participants),
                pre_test_average: Some(pre),
                post_test_average: Some(post),
                recorded_by: Some(manager),
                version: 1,
                created_at: now,
                updated_at: now,
            },
        )
        .await?;
    }

    // Referrals in every status: one emergency nobody has acknowledged for five hours, and the
    // justice centre's referral that became the Kilifi case and Neema's record.
    let office = partner(
        conn,
        "Kilifi Children's Office (demo)",
        PartnerKind::GovernmentAgency,
        vec![County::Kilifi],
        vec![],
    )
    .await?;
    let partner_desk = ids[8];
    referrals(
        conn,
        cjc,
        shelter,
        office,
        partner_desk,
        (manager, investigator),
        (kilifi, neema),
    )
    .await?;

    AuditEvent::operator("demo.seed", "system", "seed-demo")
        .record(conn)
        .await?;
    Ok(Summary {
        users: people.iter().map(|p| (p.0.to_string(), p.2)).collect(),
        cases: refs,
    })
}

/// The demo referrals, one or more in each status.
async fn referrals(
    conn: &mut AsyncPgConnection,
    cjc: PartnerId,
    shelter: PartnerId,
    office: PartnerId,
    desk: UserId,
    (manager, investigator): (UserId, UserId),
    (kilifi, neema): (CaseId, SurvivorId),
) -> QueryResult<()> {
    use crate::referrals::models::{
        ConsentGiver, ExploitationIndicator::*, ReferralRow, ReferralStatus::*, Urgency, Whereabouts,
    };
    let now = Utc::now();
    let hours = |h: i64| now - Duration::hours(h);
    let base = |external: &str,
                partner: PartnerId,
                urgency: Urgency,
                alias: &str,
                age: i32,
                submitted: chrono::DateTime<Utc>| ReferralRow {
        id: crate::ids::ReferralId::new(),
        partner_id: partner,
        external_id: external.into(),
        status: Submitted,
        urgency,
        child_alias: alias.into(),
        sex: Some(Sex::Female),
        age: Some(age),
        birth_year: None,
        county: County::Kilifi,
        sub_county: Some("malindi".into()),
        has_disability: false,
        disability_notes: None,
        concern: String::new(),
        indicators: vec![],
        whereabouts: Whereabouts::WithFamily,
        safe_tonight: true,
        consent_given_by: ConsentGiver::Guardian,
        consent_obtained_on: (submitted - Duration::days(1) + Duration::hours(3)).date_naive(),
        submitted_by: Some(desk),
        acknowledged_by: None,
        acknowledged_at: None,
        concluded_by: None,
        concluded_at: None,
        conclusion_reason: None,
        case_id: None,
        survivor_id: None,
        version: 1,
        created_at: submitted,
        updated_at: submitted,
    };
    let rows = [
        ReferralRow {
            concern: "A girl of 14 taken to a holiday villa by her aunt; a foreign visitor paid the aunt. Promised school fees.".into(),
            indicators: vec![ContactWithTourists, SeenInHotelsOrVillas, FalsePromises],
            status: Accepted,
            acknowledged_by: Some(manager),
            acknowledged_at: Some(hours(700 * 24 - 3)),
            concluded_by: Some(manager),
            concluded_at: Some(hours(699 * 24)),
            case_id: Some(kilifi),
            survivor_id: Some(neema),
            ..base("BCJC-2024-031", cjc, Urgency::Urgent, "Neema", 14, hours(700 * 24))
        },
        ReferralRow {
            concern: "Seen at night at a beach bar in Watamu with older men; says she sleeps at a friend's.".into(),
            indicators: vec![ContactWithTourists, UnexplainedMoneyOrGifts, AwayFromHome],
            whereabouts: Whereabouts::Unknown,
            safe_tonight: false,
            ..base("BCJC-2026-118", cjc, Urgency::Emergency, "A.M.", 15, hours(5))
        },
        ReferralRow {
            concern: "Out of school since March; an older boyfriend buys her a phone and airtime.".into(),
            indicators: vec![OutOfSchool, OlderPartner, UnexplainedMoneyOrGifts],
            ..base("BCJC-2026-119", cjc, Urgency::Routine, "Z.K.", 13, hours(20))
        },
        ReferralRow {
            concern: "Brought to the safe house by a neighbour after running from a lodging in Malindi town.".into(),
            indicators: vec![SexualAbuse, Threats, RestrictedMovement],
            whereabouts: Whereabouts::Shelter,
            status: Acknowledged,
            acknowledged_by: Some(investigator),
            acknowledged_at: Some(hours(26)),
            // Phoned in by the shelter and entered by staff on its behalf.
            submitted_by: Some(investigator),
            ..base("PSH-0042", shelter, Urgency::Urgent, "Imara", 16, hours(30))
        },
        ReferralRow {
            concern: "Child working as a house help in Nairobi; employer withholds pay.".into(),
            indicators: vec![EarningsTaken, RestrictedMovement],
            county: County::Nairobi,
            sub_county: None,
            status: Declined,
            acknowledged_by: Some(manager),
            acknowledged_at: Some(hours(24 * 40 - 2)),
            concluded_by: Some(manager),
            concluded_at: Some(hours(24 * 39)),
            submitted_by: Some(manager),
            conclusion_reason: Some(
                "Labour exploitation outside the program's counties: referred to the Nairobi children's office and the labour officer.".into(),
            ),
            ..base("KCO/2026/77", office, Urgency::Routine, "W.N.", 15, hours(24 * 40))
        },
        ReferralRow {
            concern: "Reported missing from school; later found with her grandmother in Kwale.".into(),
            indicators: vec![AwayFromHome],
            status: Withdrawn,
            concluded_by: Some(desk),
            concluded_at: Some(hours(24 * 9)),
            conclusion_reason: Some("Found safe with her grandmother; no exploitation.".into()),
            ..base("BCJC-2026-097", cjc, Urgency::Urgent, "H.S.", 12, hours(24 * 10))
        },
    ];
    for row in rows {
        crate::referrals::queries::insert_new(conn, &row).await?;
    }
    Ok(())
}

/// Fictional documents for the demo: on the Kilifi case a charge sheet and an identifying P3
/// form (the investigator's), in Imani's file a school report (her aftercare officer's). Loaded
/// once, after the records; how many.
pub async fn documents(
    conn: &mut AsyncPgConnection,
    store: &dyn object_store::ObjectStore,
    vault: &Vault,
) -> Result<usize, crate::db::BoxError> {
    use crate::{
        db::schema::{cases, survivors, users},
        documents::{DocumentKind, Import, Parent, import},
    };
    let user = async |conn: &mut AsyncPgConnection, email: &str| -> QueryResult<UserId> {
        users::table
            .filter(users::email.eq(email))
            .select(users::id)
            .first(conn)
            .await
    };
    let investigator = user(conn, "investigator@haki.demo").await?;
    let aftercare = user(conn, "aftercare2@haki.demo").await?;
    let kilifi: CaseId = cases::table
        .filter(cases::county.eq(County::Kilifi))
        .order(cases::id)
        .select(cases::id)
        .first(conn)
        .await?;
    let imani: SurvivorId = survivors::table
        .filter(survivors::pseudonym.eq("Imani"))
        .select(survivors::id)
        .first(conn)
        .await?;
    let files = [
        (
            Parent::Case(kilifi),
            DocumentKind::ChargeSheet,
            "Charge sheet (fictional)",
            false,
            investigator,
            "Fictional charge sheet for the demo: trafficking in persons, s. 3(1) CTIP Act.\n",
        ),
        (
            Parent::Case(kilifi),
            DocumentKind::P3Form,
            "P3 form (fictional)",
            true,
            investigator,
            "Fictional P3 form for the demo. A real one names the child: only those who may read identities see it.\n",
        ),
        (
            Parent::Survivor(imani),
            DocumentKind::SchoolReport,
            "School report, term 2 (fictional)",
            false,
            aftercare,
            "Fictional school report for the demo: attendance 92%, good progress in reading.\n",
        ),
    ];
    for (parent, kind, title, identifying, uploaded_by, text) in files {
        import(
            conn,
            store,
            vault,
            Import {
                parent,
                kind,
                title,
                document_date: ago(30),
                identifying,
                uploaded_by,
            },
            text.as_bytes().to_vec(),
        )
        .await?;
    }
    Ok(3)
}
