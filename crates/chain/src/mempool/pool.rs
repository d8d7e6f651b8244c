//! The memory pool: transactions accepted by `sendrawtransaction`, waiting
//! to be mined. Acceptance itself lives in [`crate::Chain::accept`], which
//! needs the UTXO set; this module keeps the entries, who spends what, and
//! Core's mempool sequence number.

use std::collections::HashMap;

use bitcoin::{OutPoint, Transaction, Txid, Wtxid};

use crate::events::{Event, Events, RemovalReason};

/// One transaction in the pool.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The transaction.
    pub tx: Transaction,
    /// Its id.
    pub txid: Txid,
    /// Its witness id.
    pub wtxid: Wtxid,
    /// Fee in satoshis.
    pub fee: u64,
    /// Virtual size.
    pub vsize: u64,
    /// Weight.
    pub weight: u64,
    /// Entry time (node clock).
    pub time: u64,
    /// Chain height when it entered.
    pub height: u32,
    /// Estimated memory held for it (see [`tx_usage`]).
    pub usage: u64,
    /// Arrival order, for stable listings.
    order: u64,
}

/// What `malloc` really takes for `n` bytes on a 64-bit system (Core's
/// `MallocUsage`): rounded up to 16 with 16 bytes of bookkeeping.
fn malloc(n: u64) -> u64 {
    if n == 0 {
        0
    } else {
        ((n + 31) >> 4) << 4
    }
}

/// Memory a pooled transaction holds, estimated the way Core's
/// `DynamicMemoryUsage` counts it: the shared transaction, its input and
/// output vectors, scripts longer than a prevector's 28 inline bytes,
/// witness stacks, the pool entry with its index nodes, and one
/// spent-outpoint map node per input. `-maxmempool` is measured in this.
#[must_use]
pub fn tx_usage(tx: &Transaction) -> u64 {
    let script = |len: usize| if len > 28 { malloc(len as u64) } else { 0 };
    let n_in = tx.input.len() as u64;
    let mut u = malloc(104 * n_in) + malloc(40 * tx.output.len() as u64);
    for i in &tx.input {
        u += script(i.script_sig.len());
        if !i.witness.is_empty() {
            u += malloc(24 * i.witness.len() as u64) + i.witness.iter().map(|w| malloc(w.len() as u64)).sum::<u64>();
        }
    }
    u += tx.output.iter().map(|o| script(o.script_pubkey.len())).sum::<u64>();
    u + malloc(136) + malloc(400) + n_in * malloc(72)
}

/// Core's rolling minimum fee rate: raised above the rate of whatever
/// `-maxmempool` evicts, then halved every 12 hours (faster while the pool
/// is small) once a block has arrived.
#[derive(Debug, Default)]
struct RollingFee {
    /// Satoshis per 1000 vbytes.
    rate: f64,
    last_update: u64,
    block_since_bump: bool,
}

/// The pool.
#[derive(Debug, Default)]
pub struct Mempool {
    entries: HashMap<Txid, Entry>,
    /// Outpoint → the pool transaction spending it.
    spent: HashMap<OutPoint, Txid>,
    /// Core's mempool sequence: starts at 1, advances on every add and
    /// removal.
    sequence: u64,
    next_order: u64,
    /// Where additions and removals are announced.
    events: Option<Events>,
    /// Set while a reorg takes transactions out and puts them back:
    /// nothing is announced and the sequence does not move.
    quiet: bool,
    /// Sum of the entries' `usage`.
    usage: u64,
    rolling: RollingFee,
}

impl Mempool {
    /// An empty pool with sequence 1.
    #[must_use]
    pub fn new() -> Self {
        Self { sequence: 1, ..Self::default() }
    }

    /// Announces additions and removals on `events` from now on.
    pub fn set_events(&mut self, events: Events) {
        self.events = Some(events);
    }

    /// Turns quiet mode on or off (see the field).
    pub fn set_quiet(&mut self, quiet: bool) {
        self.quiet = quiet;
    }

    /// Counts and announces a removal that happened in quiet mode but that
    /// Core would have made (a transaction that no longer fits after a
    /// reorganisation).
    pub fn announce_removed(&mut self, tx: &Transaction, reason: RemovalReason) {
        self.sequence += 1;
        if let Some(ev) = &self.events {
            ev.send(Event::TransactionRemoved {
                txid: tx.compute_txid(),
                wtxid: tx.compute_wtxid(),
                reason,
                mempool_sequence: self.sequence,
            });
        }
    }

    /// The current mempool sequence.
    #[must_use]
    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    /// Entries in arrival order.
    #[must_use]
    pub fn entries(&self) -> Vec<&Entry> {
        let mut v: Vec<&Entry> = self.entries.values().collect();
        v.sort_by_key(|e| e.order);
        v
    }

    /// One entry.
    #[must_use]
    pub fn get(&self, txid: &Txid) -> Option<&Entry> {
        self.entries.get(txid)
    }

    /// The pool transaction spending `op`, if any.
    #[must_use]
    pub fn spender(&self, op: &OutPoint) -> Option<Txid> {
        self.spent.get(op).copied()
    }

    /// Pool transactions whose outputs `entry` spends.
    #[must_use]
    pub fn parents(&self, entry: &Entry) -> Vec<Txid> {
        let mut p: Vec<Txid> =
            entry.tx.input.iter().map(|i| i.previous_output.txid).filter(|t| self.entries.contains_key(t)).collect();
        p.sort();
        p.dedup();
        p
    }

    /// Pool transactions spending outputs of `txid`.
    #[must_use]
    pub fn children(&self, txid: &Txid) -> Vec<Txid> {
        let mut c: Vec<Txid> = self.spent.iter().filter(|(op, _)| op.txid == *txid).map(|(_, t)| *t).collect();
        c.sort();
        c.dedup();
        c
    }

    /// Every ancestor (transitively) of `txid` in the pool.
    #[must_use]
    pub fn ancestors(&self, txid: &Txid) -> Vec<Txid> {
        let mut out = Vec::new();
        let mut todo = vec![*txid];
        while let Some(t) = todo.pop() {
            if let Some(e) = self.entries.get(&t) {
                for p in self.parents(e) {
                    if !out.contains(&p) {
                        out.push(p);
                        todo.push(p);
                    }
                }
            }
        }
        out
    }

    /// Every descendant (transitively) of `txid` in the pool.
    #[must_use]
    pub fn descendants(&self, txid: &Txid) -> Vec<Txid> {
        let mut out = Vec::new();
        let mut todo = vec![*txid];
        while let Some(t) = todo.pop() {
            for c in self.children(&t) {
                if !out.contains(&c) {
                    out.push(c);
                    todo.push(c);
                }
            }
        }
        out
    }

    /// Adds an accepted transaction.
    pub fn add(&mut self, tx: Transaction, fee: u64, time: u64, height: u32) {
        let txid = tx.compute_txid();
        for input in &tx.input {
            self.spent.insert(input.previous_output, txid);
        }
        let entry = Entry {
            wtxid: tx.compute_wtxid(),
            usage: tx_usage(&tx),
            vsize: tx.vsize() as u64,
            weight: tx.weight().to_wu(),
            tx,
            txid,
            fee,
            time,
            height,
            order: self.next_order,
        };
        self.next_order += 1;
        let shared = (!self.quiet && self.events.is_some()).then(|| std::sync::Arc::new(entry.tx.clone()));
        self.usage += entry.usage;
        self.entries.insert(txid, entry);
        if self.quiet {
            return;
        }
        self.sequence += 1;
        if let (Some(ev), Some(tx)) = (&self.events, shared) {
            ev.send(Event::TransactionAdded { tx, mempool_sequence: self.sequence });
        }
    }

    /// Sets the entry time of a pooled transaction (when loaded from
    /// `mempool.dat`).
    pub fn set_time(&mut self, txid: &Txid, time: u64) {
        if let Some(e) = self.entries.get_mut(txid) {
            e.time = time;
        }
    }

    /// Removes a transaction (and nothing else) for `reason`; returns it if
    /// present. Removals for a block advance the sequence but are not
    /// announced, as in Core (the block's own event covers them).
    pub fn remove(&mut self, txid: &Txid, reason: RemovalReason) -> Option<Entry> {
        let e = self.entries.remove(txid)?;
        self.usage -= e.usage;
        for input in &e.tx.input {
            if self.spent.get(&input.previous_output) == Some(txid) {
                self.spent.remove(&input.previous_output);
            }
        }
        if self.quiet {
            return Some(e);
        }
        self.sequence += 1;
        if let Some(ev) = self.events.as_ref().filter(|_| reason != RemovalReason::Block) {
            ev.send(Event::TransactionRemoved {
                txid: e.txid,
                wtxid: e.wtxid,
                reason,
                mempool_sequence: self.sequence,
            });
        }
        Some(e)
    }

    /// Removes every transaction that entered before `cutoff`, with its
    /// descendants (Core's `Expire`). Returns how many left.
    pub fn expire(&mut self, cutoff: u64) -> usize {
        let old: Vec<Txid> = self.entries.values().filter(|e| e.time < cutoff).map(|e| e.txid).collect();
        let before = self.entries.len();
        for txid in old {
            self.remove_with_descendants(&txid, RemovalReason::Expiry);
        }
        before - self.entries.len()
    }

    /// Removes a transaction with all its descendants.
    pub fn remove_with_descendants(&mut self, txid: &Txid, reason: RemovalReason) {
        let mut all = self.descendants(txid);
        all.push(*txid);
        for t in all {
            self.remove(&t, reason);
        }
    }

    /// After a block: drop its transactions and anything conflicting.
    pub fn remove_for_block(&mut self, block: &bitcoin::Block) {
        for tx in &block.txdata {
            let txid = tx.compute_txid();
            if self.entries.contains_key(&txid) {
                self.remove(&txid, RemovalReason::Block);
            } else {
                for input in &tx.input {
                    if let Some(conflict) = self.spender(&input.previous_output) {
                        self.remove_with_descendants(&conflict, RemovalReason::Conflict);
                    }
                }
            }
        }
    }

    /// Total virtual size, fees and memory usage.
    #[must_use]
    pub fn totals(&self) -> (u64, u64, u64) {
        let bytes = self.entries.values().map(|e| e.vsize).sum();
        let fees = self.entries.values().map(|e| e.fee).sum();
        (bytes, fees, self.usage)
    }

    /// Core's `TrimToSize`: while the pool holds more than `limit` bytes,
    /// evict the set with the lowest fee rate (a transaction with all its
    /// descendants), and raise the rolling minimum fee to that rate plus
    /// `incremental` (satoshis per 1000 vbytes). Returns how many left.
    pub fn trim_to_size(&mut self, limit: u64, incremental: u64) -> usize {
        let before = self.entries.len();
        while self.usage > limit && !self.entries.is_empty() {
            // who spends whom, built once per round so that each set costs
            // its own size, not a scan of the whole pool
            let mut kids: HashMap<Txid, Vec<Txid>> = HashMap::new();
            for (op, spender) in &self.spent {
                kids.entry(op.txid).or_default().push(*spender);
            }
            let (fee, vsize, txid) = self
                .entries
                .values()
                .map(|e| {
                    let mut seen = std::collections::HashSet::from([e.txid]);
                    let mut todo = vec![e.txid];
                    let (mut fee, mut vsize) = (0u64, 0u64);
                    while let Some(t) = todo.pop() {
                        if let Some(m) = self.entries.get(&t) {
                            fee += m.fee;
                            vsize += m.vsize;
                        }
                        for k in kids.get(&t).into_iter().flatten() {
                            if seen.insert(*k) {
                                todo.push(*k);
                            }
                        }
                    }
                    (fee, vsize, e.order, e.txid)
                })
                // lowest fee rate first; among equals the newest goes
                .min_by(|a, b| {
                    (u128::from(a.0) * u128::from(b.1)).cmp(&(u128::from(b.0) * u128::from(a.1))).then(b.2.cmp(&a.2))
                })
                .map(|(f, s, _, t)| (f, s, t))
                .expect("the pool is not empty");
            // Core's CFeeRate: whole satoshis per 1000 vbytes, rounded down
            let rate = (fee * 1000 / vsize.max(1) + incremental) as f64;
            if rate > self.rolling.rate {
                self.rolling.rate = rate;
                self.rolling.block_since_bump = false;
            }
            self.remove_with_descendants(&txid, RemovalReason::SizeLimit);
        }
        before - self.entries.len()
    }

    /// Core's `GetMinFee`: the fee rate (satoshis per 1000 vbytes) below
    /// which the full pool turns transactions away, decayed to `now`.
    pub fn min_fee(&mut self, now: u64, limit: u64, incremental: u64) -> u64 {
        let r = &mut self.rolling;
        if !r.block_since_bump || r.rate == 0.0 {
            return r.rate.round() as u64;
        }
        if now > r.last_update + 10 {
            let mut halflife = 12.0 * 3600.0;
            if self.usage < limit / 4 {
                halflife /= 4.0;
            } else if self.usage < limit / 2 {
                halflife /= 2.0;
            }
            r.rate /= 2f64.powf((now - r.last_update) as f64 / halflife);
            r.last_update = now;
            if r.rate < incremental as f64 / 2.0 {
                r.rate = 0.0;
                return 0;
            }
        }
        (r.rate.round() as u64).max(incremental)
    }

    /// A block arrived: the rolling minimum fee may start to decay.
    pub fn note_block(&mut self, now: u64) {
        self.rolling.last_update = now;
        self.rolling.block_since_bump = true;
    }

    /// Number of transactions.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the pool is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// `e` with its ancestors in the pool, parents first.
    fn package<'a>(&'a self, e: &'a Entry) -> Vec<&'a Entry> {
        let mut members: Vec<&Entry> =
            self.ancestors(&e.txid).iter().filter_map(|t| self.entries.get(t)).chain([e]).collect();
        members.sort_by_key(|m| m.order);
        members
    }

    /// Transactions for a block template, within `max_weight`: packages of
    /// a transaction with its unconfirmed ancestors, best package fee rate
    /// first (Core's ancestor-score selection, with scores computed once),
    /// parents always before children.
    #[must_use]
    pub fn select(&self, max_weight: u64) -> Vec<Transaction> {
        let mut scored: Vec<(u64, u64, u64, &Entry)> = self
            .entries
            .values()
            .map(|e| {
                let members = self.package(e);
                (members.iter().map(|m| m.fee).sum(), members.iter().map(|m| m.weight).sum(), e.order, e)
            })
            .collect();
        // fee per weight unit, compared without floats; ties by arrival
        scored.sort_by(|a, b| {
            (u128::from(b.0) * u128::from(a.1)).cmp(&(u128::from(a.0) * u128::from(b.1))).then(a.2.cmp(&b.2))
        });
        let mut chosen: std::collections::HashSet<Txid> = std::collections::HashSet::new();
        let mut out = Vec::new();
        let mut weight = 0;
        for (_, _, _, e) in scored {
            if chosen.contains(&e.txid) {
                continue;
            }
            let missing: Vec<&Entry> = self.package(e).into_iter().filter(|m| !chosen.contains(&m.txid)).collect();
            let extra: u64 = missing.iter().map(|m| m.weight).sum();
            if weight + extra > max_weight {
                continue;
            }
            weight += extra;
            for m in missing {
                chosen.insert(m.txid);
                out.push(m.tx.clone());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use bitcoin::hashes::Hash;
    use bitcoin::{absolute, transaction, Amount, ScriptBuf, Sequence, TxIn, TxOut, Witness};

    use super::*;

    fn tx(prev: OutPoint, tag: u8) -> Transaction {
        Transaction {
            version: transaction::Version::TWO,
            lock_time: absolute::LockTime::ZERO,
            input: vec![TxIn {
                previous_output: prev,
                script_sig: ScriptBuf::from_bytes(vec![tag]),
                sequence: Sequence::MAX,
                witness: Witness::new(),
            }],
            output: vec![TxOut { value: Amount::from_sat(1_000), script_pubkey: ScriptBuf::new() }],
        }
    }

    fn outpoint(tag: u8) -> OutPoint {
        OutPoint { txid: Txid::from_byte_array([tag; 32]), vout: 0 }
    }

    #[test]
    fn trimming_evicts_the_lowest_fee_rate_set_and_raises_the_minimum_fee() {
        let mut pool = Mempool::new();
        let rich = tx(outpoint(1), 1);
        let poor_parent = tx(outpoint(2), 2);
        let poor_child = tx(OutPoint { txid: poor_parent.compute_txid(), vout: 0 }, 3);
        pool.add(rich.clone(), 50_000, 0, 0);
        pool.add(poor_parent.clone(), 100, 0, 0);
        pool.add(poor_child.clone(), 200, 0, 0);
        let (_, _, usage) = pool.totals();
        // one transaction too many: the parent goes, and its child with it
        assert_eq!(pool.trim_to_size(usage - 1, 100), 2);
        assert!(pool.get(&rich.compute_txid()).is_some());
        assert!(pool.get(&poor_parent.compute_txid()).is_none());
        assert!(pool.get(&poor_child.compute_txid()).is_none());
        assert_eq!(pool.totals().2, tx_usage(&rich));
        // the minimum is the evicted set's rate plus the increment, until a
        // block lets it decay
        let size = poor_parent.vsize() as u64 + poor_child.vsize() as u64;
        let want = 300 * 1000 / size + 100;
        assert_eq!(pool.min_fee(1_000, u64::MAX, 100), want);
        pool.note_block(1_000);
        assert_eq!(pool.min_fee(1_000, u64::MAX, 100), want, "no time has passed");
        assert_eq!(pool.min_fee(1_000 + 12 * 3600 * 20, u64::MAX, 100), 0, "decayed away");
    }

    #[test]
    fn select_takes_packages_by_fee_rate_parents_first() {
        let mut pool = Mempool::new();
        let parent = tx(outpoint(1), 1);
        let child = tx(OutPoint { txid: parent.compute_txid(), vout: 0 }, 2);
        let middle = tx(outpoint(3), 3);
        let poor = tx(outpoint(4), 4);
        pool.add(parent.clone(), 10, 0, 0); // pays little, but its child pays for it
        pool.add(poor.clone(), 5, 0, 0);
        pool.add(middle.clone(), 1_000, 0, 0);
        pool.add(child.clone(), 5_000, 0, 0);
        let picked: Vec<Txid> = pool.select(u64::MAX).iter().map(Transaction::compute_txid).collect();
        let want: Vec<Txid> = [&parent, &child, &middle, &poor].iter().map(|t| t.compute_txid()).collect();
        assert_eq!(picked, want);
        // a weight limit leaves out the packages that do not fit
        let one = parent.weight().to_wu();
        let picked = pool.select(one * 2 - 1);
        assert_eq!(picked.iter().map(Transaction::compute_txid).collect::<Vec<_>>(), vec![middle.compute_txid()]);
    }
}
