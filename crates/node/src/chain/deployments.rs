//! `getdeploymentinfo` for regtest: the buried deployments and the BIP9
//! `testdummy` state machine, computed as Core's versionbits code does.

use serde_json::{json, Map, Value};

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

fn script_flags(height: u32) -> Vec<&'static str> {
    if height >= 1 {
        vec!["CHECKLOCKTIMEVERIFY", "CHECKSEQUENCEVERIFY", "DERSIG", "NULLDUMMY", "P2SH", "TAPROOT", "WITNESS"]
    } else {
        vec!["NULLDUMMY", "P2SH", "TAPROOT", "WITNESS"]
    }
}

/// Core's `getdeploymentinfo` object for `info` (a block of the active chain).
#[must_use]
pub(crate) fn deployment_info(chain: &Chain, info: &BlockInfo) -> Value {
    let version_at =
        |height: u32| chain.hash_at(height).and_then(|h| chain.info(&h)).map(|i| i.header.version.to_consensus());
    let version_at: VersionAt<'_> = &version_at;
    let h = info.height;
    let mut deployments = Map::new();
    for (name, height) in [("bip34", 1), ("bip66", 1), ("bip65", 1), ("csv", 1), ("segwit", 0)] {
        deployments.insert(name.into(), json!({"type": "buried", "active": h + 1 >= height, "height": height}));
    }
    let prev = h.checked_sub(1);
    let current = state_for(version_at, prev);
    let next = state_for(version_at, Some(h));
    let mut bip9 = Map::new();
    let has_stats = matches!(current, State::Started | State::LockedIn);
    if has_stats {
        bip9.insert("bit".into(), json!(BIT));
    }
    bip9.insert("start_time".into(), json!(0));
    bip9.insert("timeout".into(), json!(i64::MAX));
    bip9.insert("min_activation_height".into(), json!(0));
    let since = since(version_at, prev, current);
    bip9.insert("status".into(), json!(current.name()));
    bip9.insert("since".into(), json!(since));
    bip9.insert("status_next".into(), json!(next.name()));
    if has_stats {
        let in_period = 1 + h % PERIOD;
        let marks: String = (h + 1 - in_period..=h).map(|x| if signals(version_at, x) { '#' } else { '-' }).collect();
        let count = u32::try_from(marks.matches('#').count()).unwrap_or(0);
        let mut stats = Map::new();
        stats.insert("period".into(), json!(PERIOD));
        stats.insert("elapsed".into(), json!(in_period));
        stats.insert("count".into(), json!(count));
        if current == State::Started {
            stats.insert("threshold".into(), json!(THRESHOLD));
            stats.insert("possible".into(), json!(PERIOD - THRESHOLD >= in_period - count));
        }
        bip9.insert("statistics".into(), Value::Object(stats));
        bip9.insert("signalling".into(), json!(marks));
    }
    let active_since = if current == State::Active {
        Some(since)
    } else if next == State::Active {
        Some(h + 1)
    } else {
        None
    };
    let mut rv = Map::new();
    rv.insert("type".into(), json!("bip9"));
    if let Some(a) = active_since {
        rv.insert("height".into(), json!(a));
    }
    rv.insert("active".into(), json!(active_since.is_some_and(|a| a <= h + 1)));
    rv.insert("bip9".into(), Value::Object(bip9));
    deployments.insert("testdummy".into(), Value::Object(rv));
    json!({
        "hash": info.hash.to_string(),
        "height": h,
        "script_flags": script_flags(h),
        "deployments": deployments,
    })
}
