//! The asset state machine (API.md §4.1) as one pure function, so every transition is
//! decided — and tested — in one place; and what a review verdict on the MAIN file does to
//! its asset ([`activate`], [`reject`]), for the processing job and the manual review alike.

use crate::catalog::Asset;
use crate::model::{AssetState, FailType};

/// Something that moves an asset between states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Into the recycle bin (DELETE, batch DELETE).
    Delete,
    /// Permanent deletion (`mode=force`, batch DELETE_FORCE).
    DeleteForce,
    /// Out of the recycle bin.
    Restore,
    /// PUT `asset_state=ACTIVED`, batch ACTIVE.
    Activate,
    /// PUT `asset_state=UNACTIVED`, batch UNACTIVE.
    Deactivate,
    /// PUT `asset_state=WAITING_DELETE`.
    WaitDelete,
    /// Freeze (admin or scheduled).
    Block,
    /// Unfreeze (admin).
    Unblock,
}

/// The state fields a transition reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct States {
    /// Current state.
    pub state: AssetState,
    /// Where a restore goes.
    pub before_delete: Option<AssetState>,
    /// Where an unblock goes.
    pub before_block: Option<AssetState>,
}

/// A transition that the current state does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("asset is {state}: {rule}")]
pub struct StateConflict {
    /// The state the asset is in.
    pub state: AssetState,
    /// What is not allowed.
    pub rule: &'static str,
}

/// Applies `t` to `s`. Repeating a transition whose target is already reached is a no-op
/// that succeeds, so retried requests are harmless.
pub fn apply(s: States, t: Transition) -> Result<States, StateConflict> {
    use AssetState::*;
    let conflict = |rule| {
        Err(StateConflict {
            state: s.state,
            rule,
        })
    };
    let to = |state| Ok(States { state, ..s });
    match (t, s.state) {
        (Transition::Delete, Deleting) => Ok(s),
        (Transition::Delete, Deleted) => conflict("it is already permanently deleted"),
        (Transition::Delete, current) => Ok(States {
            state: Deleting,
            before_delete: Some(current),
            ..s
        }),
        (Transition::DeleteForce, _) => Ok(States {
            state: Deleted,
            before_delete: None,
            before_block: None,
        }),
        (Transition::Restore, Deleting) => Ok(States {
            state: s.before_delete.unwrap_or(Unactived),
            before_delete: None,
            ..s
        }),
        (Transition::Restore, _) => {
            conflict("only assets in the recycle bin (DELETING) can be restored")
        }
        (Transition::Activate, Actived) => Ok(s),
        (Transition::Activate, Unactived | WaitingDelete) => to(Actived),
        (Transition::Activate, Creating | Failed) => {
            conflict("its main file has not been uploaded, so it cannot be activated")
        }
        (Transition::Activate, _) => conflict("it cannot be activated"),
        (Transition::Deactivate, Unactived) => Ok(s),
        (Transition::Deactivate, Actived | WaitingDelete) => to(Unactived),
        (Transition::Deactivate, Creating | Failed) => {
            conflict("its main file has not been uploaded, so it cannot be deactivated")
        }
        (Transition::Deactivate, _) => conflict("it cannot be deactivated"),
        (Transition::WaitDelete, WaitingDelete) => Ok(s),
        (Transition::WaitDelete, Actived) => to(WaitingDelete),
        (Transition::WaitDelete, _) => conflict("only ACTIVED assets can be set to WAITING_DELETE"),
        (Transition::Block, Block) => Ok(s),
        (Transition::Block, Deleting | Deleted) => conflict("deleted assets cannot be blocked"),
        (Transition::Block, current) => Ok(States {
            state: Block,
            before_block: Some(current),
            ..s
        }),
        (Transition::Unblock, Block) => Ok(States {
            state: s.before_block.unwrap_or(Unactived),
            before_block: None,
            ..s
        }),
        (Transition::Unblock, _) => conflict("only BLOCK assets can be unblocked"),
    }
}

/// Fails an asset whose MAIN file review rejected.
pub fn reject(asset: &mut Asset, fail_type: FailType, reason: &str) {
    let message = format!("review rejected the main file: {reason}");
    match asset.asset_state {
        AssetState::Creating | AssetState::Failed => {
            asset.asset_state = AssetState::Failed;
            asset.fail_type = Some(fail_type);
            asset.reason = Some(message);
        }
        AssetState::Deleting if asset.state_before_delete == Some(AssetState::Creating) => {
            asset.state_before_delete = Some(AssetState::Failed);
            asset.fail_type = Some(fail_type);
            asset.reason = Some(message);
        }
        _ => {}
    }
}

/// The state an asset whose MAIN file passed processing and review should have.
pub fn activate(asset: &mut Asset) {
    match asset.asset_state {
        AssetState::Creating | AssetState::Failed => {
            asset.asset_state = AssetState::Actived;
            asset.reason = None;
            asset.fail_type = None;
        }
        AssetState::Deleting if asset.state_before_delete == Some(AssetState::Creating) => {
            asset.state_before_delete = Some(AssetState::Actived);
        }
        AssetState::Block if asset.state_before_block == Some(AssetState::Creating) => {
            asset.state_before_block = Some(AssetState::Actived);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AssetState::*;

    fn at(state: AssetState) -> States {
        States {
            state,
            before_delete: None,
            before_block: None,
        }
    }

    fn ends(from: AssetState, t: Transition) -> Result<AssetState, StateConflict> {
        apply(at(from), t).map(|s| s.state)
    }

    const ALL: [AssetState; 8] = [
        Creating,
        Failed,
        Unactived,
        Actived,
        Deleting,
        Deleted,
        Block,
        WaitingDelete,
    ];

    #[test]
    fn delete_moves_every_live_state_to_the_recycle_bin_and_restore_returns_it() {
        for from in [Creating, Failed, Unactived, Actived, Block, WaitingDelete] {
            let deleted = apply(at(from), Transition::Delete).unwrap();
            assert_eq!(deleted.state, Deleting);
            let restored = apply(deleted, Transition::Restore).unwrap();
            assert_eq!(
                restored.state, from,
                "restore of an asset deleted from {from}"
            );
        }
    }

    #[test]
    fn deleting_twice_is_a_no_op_but_a_permanently_deleted_asset_cannot_be_soft_deleted() {
        assert_eq!(ends(Deleting, Transition::Delete), Ok(Deleting));
        assert!(ends(Deleted, Transition::Delete).is_err());
    }

    #[test]
    fn force_delete_reaches_deleted_from_every_state_and_cannot_be_restored() {
        for from in ALL {
            assert_eq!(ends(from, Transition::DeleteForce), Ok(Deleted));
        }
        assert!(ends(Deleted, Transition::Restore).is_err());
    }

    #[test]
    fn restore_is_refused_outside_the_recycle_bin() {
        for from in ALL.into_iter().filter(|s| *s != Deleting) {
            assert!(
                ends(from, Transition::Restore).is_err(),
                "restore from {from}"
            );
        }
    }

    #[test]
    fn restore_without_a_recorded_state_lands_in_unactived() {
        assert_eq!(ends(Deleting, Transition::Restore), Ok(Unactived));
    }

    #[test]
    fn activation_toggles_between_actived_and_unactived_only_after_upload() {
        assert_eq!(ends(Unactived, Transition::Activate), Ok(Actived));
        assert_eq!(ends(Actived, Transition::Activate), Ok(Actived));
        assert_eq!(ends(WaitingDelete, Transition::Activate), Ok(Actived));
        assert_eq!(ends(Actived, Transition::Deactivate), Ok(Unactived));
        assert_eq!(ends(Unactived, Transition::Deactivate), Ok(Unactived));
        assert_eq!(ends(WaitingDelete, Transition::Deactivate), Ok(Unactived));
        for from in [Creating, Failed, Deleting, Deleted, Block] {
            assert!(
                ends(from, Transition::Activate).is_err(),
                "activate from {from}"
            );
            assert!(
                ends(from, Transition::Deactivate).is_err(),
                "deactivate from {from}"
            );
        }
    }

    #[test]
    fn waiting_delete_is_reachable_only_from_actived() {
        assert_eq!(ends(Actived, Transition::WaitDelete), Ok(WaitingDelete));
        assert_eq!(
            ends(WaitingDelete, Transition::WaitDelete),
            Ok(WaitingDelete)
        );
        for from in [Creating, Failed, Unactived, Deleting, Deleted, Block] {
            assert!(ends(from, Transition::WaitDelete).is_err(), "from {from}");
        }
    }

    #[test]
    fn block_remembers_the_state_unblock_returns_to() {
        for from in [Creating, Failed, Unactived, Actived, WaitingDelete] {
            let blocked = apply(at(from), Transition::Block).unwrap();
            assert_eq!(blocked.state, Block);
            assert_eq!(apply(blocked, Transition::Unblock).unwrap().state, from);
        }
        assert!(ends(Deleting, Transition::Block).is_err());
        assert!(ends(Deleted, Transition::Block).is_err());
        assert!(ends(Actived, Transition::Unblock).is_err());
    }

    #[test]
    fn a_blocked_asset_deleted_and_restored_is_still_blocked() {
        let blocked = apply(at(Actived), Transition::Block).unwrap();
        let deleted = apply(blocked, Transition::Delete).unwrap();
        let restored = apply(deleted, Transition::Restore).unwrap();
        assert_eq!(restored.state, Block);
        assert_eq!(apply(restored, Transition::Unblock).unwrap().state, Actived);
    }
}
