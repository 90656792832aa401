//! What each indicator counts, in words: the contract between the program and its donors. The
//! view `tally_source` (migration `tallies`) counts exactly these sentences, `queries::results`
//! sums it.

use super::{dto::IndicatorDefinition, models::Indicator};

impl Indicator {
    pub fn definition(self) -> IndicatorDefinition {
        use Indicator::*;
        let (title, counts, dated_by, excludes, county_of, suppressed) = match self {
            SurvivorsRelieved => (
                "Survivors relieved",
                "Survivors taken into the program's care (each survivor once).",
                "The survivor's intake date.",
                "Children only referred (a referral not accepted), survivors whose intake falls outside the period.",
                "The survivor's county.",
                true,
            ),
            PerpetratorsRestrained => (
                "Perpetrators restrained",
                "Suspects arrested.",
                "The suspect's arrest date.",
                "Suspects at large, or without an arrest date.",
                "The county of the suspect's case.",
                true,
            ),
            PeopleTrained => (
                "People trained",
                "Participants (women and men) of trainings, mentoring visits, technical assistance and community sensitisation, summed over the sessions (a person at two sessions counts twice).",
                "The training's start date.",
                "Nothing else.",
                "The training's county.",
                false,
            ),
            ActivePartnerships => (
                "Active partnerships",
                "Partner organisations marked active whose MOU was in force on at least one day of the period.",
                "The MOU's signature and expiry dates (signed on or before the last day, not expired before the first).",
                "Inactive organisations and organisations without a signed MOU.",
                "The counties the organisation works in.",
                false,
            ),
            CasesReported => (
                "Cases reported",
                "Cases opened.",
                "The case's report date.",
                "Nothing else.",
                "The case's county.",
                true,
            ),
            SuspectsCharged => (
                "Suspects charged",
                "Suspects charged for the first time (each suspect once, however many charges).",
                "The filing date of the suspect's first charge.",
                "Suspects whose first charge was filed before the period.",
                "The county of the suspect's case.",
                true,
            ),
            Convictions => (
                "Convictions",
                "Suspects convicted (each suspect once, however many counts).",
                "The decision date of the suspect's first conviction.",
                "Acquittals, withdrawn charges, convictions without a decision date.",
                "The county of the suspect's case.",
                true,
            ),
            SurvivorsRestored => (
                "Survivors restored",
                "Survivors whose restoration was closed as restored (each survivor once).",
                "The closure date.",
                "Closures for other reasons, and restored closures since reopened.",
                "The survivor's county.",
                true,
            ),
            CourtSessionsSupported => (
                "Court sessions supported",
                "Court sessions held at which the survivor was accompanied.",
                "The session's date.",
                "Sessions adjourned, vacated or still scheduled, and sessions without accompaniment.",
                "The county of the session's case.",
                true,
            ),
            FollowUpsSustained => (
                "Follow-ups with restoration sustained",
                "Follow-ups (two years after closure) done, with restoration found sustained.",
                "The date the follow-up was conducted.",
                "Follow-ups not done, cancelled, or finding that the survivor needs support or was not reached.",
                "The survivor's county.",
                true,
            ),
            ReferralsReceived => (
                "Referrals received",
                "Referrals submitted by partner organisations (or by staff on their behalf), whatever became of them.",
                "The submission date (East Africa Time).",
                "Nothing else: withdrawn and declined referrals count as received.",
                "The county the referral names.",
                true,
            ),
        };
        IndicatorDefinition {
            indicator: self,
            title: title.into(),
            counts: counts.into(),
            dated_by: dated_by.into(),
            excludes: excludes.into(),
            county_of: county_of.into(),
            suppressed_when_small: suppressed,
        }
    }
}
