//! The stage machine of a case: which moves are allowed, and what each move requires.

use super::models::Stage;

/// The stages a case may move to from `from`.
pub fn allowed_moves(from: Stage) -> &'static [Stage] {
    use Stage::*;
    match from {
        Reported => &[Investigation, Closed],
        Investigation => &[SuspectArrested, Charged, Closed],
        SuspectArrested => &[Investigation, Charged, Closed],
        Charged => &[Trial, Closed],
        Trial => &[Judgment, Closed],
        Judgment => &[Appeal, Closed],
        Appeal => &[Judgment, Closed],
        Closed => &[],
    }
}

/// What must already be true of the case for a move into `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    None,
    /// A suspect with an arrest date.
    ArrestedSuspect,
    /// A charge that is filed (not withdrawn).
    FiledCharge,
    /// A closure reason in the request.
    ClosureReason,
}

pub fn requirement(to: Stage) -> Requirement {
    match to {
        Stage::SuspectArrested => Requirement::ArrestedSuspect,
        Stage::Charged => Requirement::FiledCharge,
        Stage::Closed => Requirement::ClosureReason,
        _ => Requirement::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::VariantArray;

    #[test]
    fn closed_is_final_and_every_open_stage_can_close() {
        assert!(allowed_moves(Stage::Closed).is_empty());
        for stage in Stage::VARIANTS.iter().filter(|s| **s != Stage::Closed) {
            assert!(allowed_moves(*stage).contains(&Stage::Closed), "{stage:?}");
            assert!(!allowed_moves(*stage).contains(stage), "{stage:?} moves to itself");
        }
    }

    #[test]
    fn a_trial_needs_a_charge_first() {
        for stage in [Stage::Reported, Stage::Investigation, Stage::SuspectArrested] {
            assert!(!allowed_moves(stage).contains(&Stage::Trial));
        }
        assert_eq!(requirement(Stage::Charged), Requirement::FiledCharge);
    }
}
