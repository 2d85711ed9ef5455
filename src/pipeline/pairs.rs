//! The pairs of a run, held in memory or streamed.
//!
//! Every stage after the gathering walks the pairs in order ([`PairSet::for_each`]): the
//! accumulation of the normal equations, each refinement or Gauss–Newton pass, the selection
//! on the residual. Held, the estimates of every pair stay in memory between the passes.
//! Streamed, a twin experiment's pairs are made again range by range on every pass (the truth
//! resumed from checkpoints, the same noise draws, the same estimates), so memory stays flat in
//! the number of pairs and the answer is the one holding them gives. `observations.streaming`
//! chooses; `"auto"` streams once the held pairs would pass [`HELD_BYTES`].

use crate::case::{Assimilation, Case};
use crate::error::{MedidaError, Result};
use crate::pipeline::analysis::{estimate_states, Estimate};
use crate::pipeline::observe::{observe_pairs, ObservedPair};
use crate::pipeline::{assimilate, Progress};
use crate::systems::{System, TruePair};
use std::cell::RefCell;
use std::ops::Range;

/// Pairs made at a time when streaming (`observations.streaming = "always"` or `"auto"`).
pub const STREAM_CHUNK: usize = 256;

/// Pairs the row map is planned from (the noise floor of their spectra): the first of the run.
pub const PLAN_PAIRS: usize = 256;

/// `observations.streaming = "auto"` streams once the held pairs (true, observed and
/// estimated states) would take more than this.
pub const HELD_BYTES: f64 = 64e6;

/// True pairs kept for the figures at most (evenly spread, the first among them).
pub const SHOWN_PAIRS: usize = 64;

/// Whether the pairs shown in the figures include pair `k` of `pairs`.
pub fn shown(k: usize, pairs: usize) -> bool {
    if pairs <= SHOWN_PAIRS {
        return true;
    }
    let j = (k * (SHOWN_PAIRS - 1)).div_ceil(pairs - 1);
    j * (pairs - 1) / (SHOWN_PAIRS - 1) == k
}

/// How a twin experiment's pairs are made: the truth's pairs, each observed with its own
/// noise draws, and estimated from the observations.
pub struct TwinStream {
    pub count: usize,
    /// Pairs made at a time.
    pub range: usize,
    pub history: usize,
    /// The windows the truth is asked for, and which of them the pairs end at.
    pub windows: Vec<usize>,
    pub end: usize,
    pub noise: f64,
    pub seed: u64,
    pub sensors: Option<Vec<usize>>,
}

/// A range of pairs as made: the truth, what was observed (None: exact full observations),
/// and the estimates before any smoothing or analysis.
pub struct Made<V> {
    pub truth: Vec<TruePair<V>>,
    pub observed: Option<Vec<ObservedPair>>,
    pub estimates: Vec<Estimate<V>>,
}

impl TwinStream {
    /// The pairs `range`.
    pub fn make<S: System>(&self, system: &mut S, range: Range<usize>) -> Result<Made<S::Value>> {
        let first = range.start;
        let truth: Vec<TruePair<S::Value>> = system
            .truth_pairs_in(self.count, self.history, &self.windows, range)?
            .into_iter()
            .map(|p| {
                if self.end == 0 {
                    p
                } else {
                    p.with_end(self.end)
                }
            })
            .collect();
        let exact = self.noise == 0.0 && self.sensors.is_none();
        let observed =
            (!exact).then(|| observe_pairs(system, &truth, first, self.noise, self.seed, self.end));
        let estimates =
            estimate_states(system, &truth, observed.as_deref(), self.sensors.as_deref())?;
        Ok(Made {
            truth,
            observed,
            estimates,
        })
    }
}

/// What turns a pair's estimates into those the regression sees: the system's smoothing of
/// every level, then an ensemble filter's analyses when there is one.
pub struct Preparation {
    pub assimilation: Assimilation,
    pub seed: u64,
    pub sensors: Option<Vec<usize>>,
}

impl Preparation {
    pub fn of(case: &Case, sensors: Option<&[usize]>) -> Self {
        Preparation {
            assimilation: case.assimilation.clone(),
            seed: case.seed,
            sensors: sensors.map(<[usize]>::to_vec),
        }
    }

    /// Prepares `estimates`, the pairs from number `first` on (observed as `observed`).
    pub fn apply<S: System>(
        &self,
        system: &mut S,
        estimates: &mut [Estimate<S::Value>],
        observed: Option<&[ObservedPair]>,
        first: usize,
        pairs: usize,
        progress: Progress,
    ) -> Result<()> {
        for e in estimates.iter_mut() {
            for state in e.start.iter_mut().chain(std::iter::once(&mut e.end)) {
                system.smooth(state);
            }
        }
        if self.assimilation.method.is_ensemble() {
            let observed = observed.ok_or_else(|| {
                MedidaError::Config("an ensemble filter needs noisy observations".into())
            })?;
            assimilate(self, system, estimates, observed, first, pairs, progress)?;
        }
        Ok(())
    }
}

/// A streamed run's pairs: how they are made and prepared, the first of them (prepared), and
/// the pairs for the figures, gathered on the first pass.
pub struct Streamed<V> {
    pub twin: TwinStream,
    pub preparation: Preparation,
    pub first: Estimate<V>,
    pub shown: RefCell<Option<Vec<TruePair<V>>>>,
}

/// The pairs of a run.
pub enum PairSet<V> {
    /// Every pair's prepared estimates, and the true pairs the figures show.
    Held {
        estimates: Vec<Estimate<V>>,
        shown: Vec<TruePair<V>>,
    },
    Streamed(Box<Streamed<V>>),
}

impl<V: Clone> PairSet<V> {
    pub fn len(&self) -> usize {
        match self {
            PairSet::Held { estimates, .. } => estimates.len(),
            PairSet::Streamed(s) => s.twin.count,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the pairs are made again on every pass.
    pub fn streamed(&self) -> bool {
        matches!(self, PairSet::Streamed(_))
    }

    /// The first pair's prepared estimates.
    pub fn first(&self) -> &Estimate<V> {
        match self {
            PairSet::Held { estimates, .. } => &estimates[0],
            PairSet::Streamed(s) => &s.first,
        }
    }

    /// Calls `f` on every pair in order (its number, its prepared estimates) until it returns
    /// false or an error.
    pub fn for_each<S: System<Value = V>>(
        &self,
        system: &mut S,
        mut f: impl FnMut(&mut S, usize, &Estimate<V>) -> Result<bool>,
    ) -> Result<()> {
        match self {
            PairSet::Held { estimates, .. } => {
                for (k, e) in estimates.iter().enumerate() {
                    if !f(system, k, e)? {
                        break;
                    }
                }
                Ok(())
            }
            PairSet::Streamed(s) => {
                let count = s.twin.count;
                let mut shown = s.shown.borrow().is_none().then(Vec::new);
                let mut start = 0;
                while start < count {
                    let range = start..(start + s.twin.range).min(count);
                    let Made {
                        truth,
                        observed,
                        mut estimates,
                    } = s.twin.make(system, range.clone())?;
                    s.preparation.apply(
                        system,
                        &mut estimates,
                        observed.as_deref(),
                        start,
                        count,
                        &|_| Ok(()),
                    )?;
                    if let Some(shown) = shown.as_mut() {
                        shown.extend(
                            truth
                                .into_iter()
                                .zip(range.clone())
                                .filter_map(|(p, k)| self::shown(k, count).then_some(p)),
                        );
                    }
                    for (k, e) in range.clone().zip(&estimates) {
                        if !f(system, k, e)? {
                            return Ok(());
                        }
                    }
                    start = range.end;
                }
                if let Some(shown) = shown {
                    *s.shown.borrow_mut() = Some(shown);
                }
                Ok(())
            }
        }
    }

    /// The true pairs for the figures (a streamed run's from its first complete pass).
    pub fn shown(&self) -> Vec<TruePair<V>> {
        match self {
            PairSet::Held { shown, .. } => shown.clone(),
            PairSet::Streamed(s) => s.shown.borrow().clone().unwrap_or_default(),
        }
    }
}

/// The true pairs kept for the figures out of all of them.
pub fn shown_pairs<V>(truth: Vec<TruePair<V>>) -> Vec<TruePair<V>> {
    let n = truth.len();
    truth
        .into_iter()
        .enumerate()
        .filter_map(|(k, pair)| shown(k, n).then_some(pair))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shown_pairs_are_spread_evenly_and_include_the_first_and_last() {
        for pairs in [1, 10, 64, 65, 100, 1000, 10_000] {
            let wanted: Vec<usize> = if pairs <= SHOWN_PAIRS {
                (0..pairs).collect()
            } else {
                (0..SHOWN_PAIRS)
                    .map(|k| k * (pairs - 1) / (SHOWN_PAIRS - 1))
                    .collect()
            };
            let got: Vec<usize> = (0..pairs).filter(|&k| shown(k, pairs)).collect();
            assert_eq!(got, wanted, "{pairs} pairs");
        }
    }
}
