//! Regtest's deployments: the buried ones and the BIP9 `testdummy` state
//! machine, computed as Core's versionbits code does (the node's
//! `getdeploymentinfo` writes them as JSON).

use super::{BlockInfo, Chain};

const PERIOD: u32 = 144;
const THRESHOLD: u32 = 108;
const BIT: u32 = 28;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Defined,
    Started,
    LockedIn,
    Active,
}

impl State {
    fn name(self) -> &'static str {
        match self {
            Self::Defined => "defined",
            Self::Started => "started",
            Self::LockedIn => "locked_in",
            Self::Active => "active",
        }
    }
}

/// The version of the active block at a height.
pub(super) type VersionAt<'a> = &'a dyn Fn(u32) -> Option<i32>;

fn signals(version_at: VersionAt<'_>, height: u32) -> bool {
    version_at(height).is_some_and(|v| (v >> 29) & 0b111 == 0b001 && (v >> BIT) & 1 == 1)
}

/// Core's `ComputeBlockVersion` for the block after `tip_height`: the
/// version-bits top bits, plus bit 28 while `testdummy` is started or
/// locked in (Core's miner signals for it on regtest).
pub(super) fn block_version(version_at: VersionAt<'_>, tip_height: u32) -> i32 {
    match state_for(version_at, Some(tip_height)) {
        State::Started | State::LockedIn => 0x2000_0000 | (1 << BIT),
        _ => 0x2000_0000,
    }
}

/// The state of the block after the one at `prev` (None: genesis).
fn state_for(version_at: VersionAt<'_>, prev: Option<u32>) -> State {
    let Some(prev) = prev else { return State::Defined };
    // the last block of the previous period
    let Some(boundary) = (prev + 1).checked_sub((prev + 1) % PERIOD).and_then(|n| n.checked_sub(1)) else {
        return State::Defined;
    };
    let mut state = State::Defined;
    let mut b = PERIOD - 1;
    while b <= boundary {
        state = match state {
            // start_time 0: every median time past is at or after it
            State::Defined => State::Started,
            State::Started => {
                let count = (b + 1 - PERIOD..=b).filter(|h| signals(version_at, *h)).count();
                if u32::try_from(count).unwrap_or(0) >= THRESHOLD {
                    State::LockedIn
                } else {
                    State::Started
                }
            }
            State::LockedIn | State::Active => State::Active,
        };
        b += PERIOD;
    }
    state
}

fn since(version_at: VersionAt<'_>, prev: Option<u32>, current: State) -> u32 {
    let Some(prev) = prev else { return 0 };
    if current == State::Defined {
        return 0;
    }
    let mut p = prev - (prev + 1) % PERIOD;
    while let Some(parent) = p.checked_sub(PERIOD) {
        if state_for(version_at, Some(parent)) != current {
            break;
        }
        p = parent;
    }
    p + 1
}

/// The script verification flags in force for a block at `height`.
#[must_use]
pub fn script_flags(height: u32) -> Vec<&'static str> {
    if height >= 1 {
        vec!["CHECKLOCKTIMEVERIFY", "CHECKSEQUENCEVERIFY", "DERSIG", "NULLDUMMY", "P2SH", "TAPROOT", "WITNESS"]
    } else {
        vec!["NULLDUMMY", "P2SH", "TAPROOT", "WITNESS"]
    }
}

/// Regtest's buried deployments and the heights they are active from.
pub const BURIED: [(&str, u32); 5] = [("bip34", 1), ("bip66", 1), ("bip65", 1), ("csv", 1), ("segwit", 0)];

/// The signalling statistics of the current BIP9 period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bip9Statistics {
    /// Blocks in a period.
    pub period: u32,
    /// Blocks of the current period so far, up to and including the block.
    pub elapsed: u32,
    /// Of those, how many signal.
    pub count: u32,
    /// While started: the signals needed, and whether they can still come.
    pub threshold: Option<(u32, bool)>,
    /// One character per elapsed block: `#` signals, `-` does not.
    pub signalling: String,
}

/// The BIP9 `testdummy` deployment at one block, as Core's versionbits
/// computes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bip9Info {
    /// The version bit.
    pub bit: u32,
    /// The state for this block (`defined`, `started`, `locked_in`, `active`).
    pub status: &'static str,
    /// The state for the next block.
    pub status_next: &'static str,
    /// The first height of the current state.
    pub since: u32,
    /// Present while started or locked in.
    pub statistics: Option<Bip9Statistics>,
    /// The height the deployment is (or, next block, will be) active from.
    pub active_since: Option<u32>,
}

/// `testdummy`'s state at `info` (a block of the active chain).
#[must_use]
pub fn testdummy(chain: &Chain, info: &BlockInfo) -> Bip9Info {
    let version_at =
        |height: u32| chain.hash_at(height).and_then(|h| chain.info(&h)).map(|i| i.header.version.to_consensus());
    let version_at: VersionAt<'_> = &version_at;
    let h = info.height;
    let prev = h.checked_sub(1);
    let current = state_for(version_at, prev);
    let next = state_for(version_at, Some(h));
    let since = since(version_at, prev, current);
    let statistics = matches!(current, State::Started | State::LockedIn).then(|| {
        let in_period = 1 + h % PERIOD;
        let marks: String = (h + 1 - in_period..=h).map(|x| if signals(version_at, x) { '#' } else { '-' }).collect();
        let count = u32::try_from(marks.matches('#').count()).expect("a period has fewer than 2^32 blocks");
        let threshold = (current == State::Started).then(|| (THRESHOLD, PERIOD - THRESHOLD >= in_period - count));
        Bip9Statistics { period: PERIOD, elapsed: in_period, count, threshold, signalling: marks }
    });
    let active_since = if current == State::Active {
        Some(since)
    } else if next == State::Active {
        Some(h + 1)
    } else {
        None
    };
    Bip9Info { bit: BIT, status: current.name(), status_next: next.name(), since, statistics, active_since }
}
