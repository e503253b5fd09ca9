//! A team: every thread of rayon's pool running one closure at once, meeting at a spinning
//! barrier, for kernels whose steps are too short for a fork-join per step.
//!
//! A `par_chunks_mut` per pass puts the workers to sleep and wakes them again each time: tens
//! of microseconds per pass, as much as a whole pass costs on a grid that fits in cache. A team
//! is formed once per call ([`rayon::broadcast`]) and its members meet at a [`SpinBarrier`],
//! about a cache-line transfer when both cores are free.
//!
//! Members that spin for each other must all be running, so a team is formed only when that
//! is certain: from outside the pool (a member that is itself a worker waiting on a lock could
//! never arrive) and while no other team holds the pool (two teams broadcast at once could each
//! hold one worker and wait for the other's). Otherwise [`run`] declines and the caller uses its
//! fork-join path. A member that panics poisons the barrier, so the others leave it instead of
//! spinning forever, and the panic reaches the caller.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Spins before a waiting member starts yielding its CPU: a few microseconds, longer than a
/// free partner needs to arrive, short enough that a starved vCPU is soon given back.
const SPINS_BEFORE_YIELD: u32 = 1 << 12;

/// Whether a team holds the pool now.
static POOL_TAKEN: AtomicBool = AtomicBool::new(false);

/// A reusable barrier of a fixed number of members that waits by spinning, then yielding.
#[derive(Debug)]
pub struct SpinBarrier {
    members: usize,
    arrived: AtomicUsize,
    /// Completed waits: a member waits for this to move past the value it saw on arrival.
    generation: AtomicUsize,
    poisoned: AtomicBool,
}

impl SpinBarrier {
    pub fn new(members: usize) -> Self {
        SpinBarrier {
            members,
            arrived: AtomicUsize::new(0),
            generation: AtomicUsize::new(0),
            poisoned: AtomicBool::new(false),
        }
    }

    /// Returns once every member has called `wait` this round. What each member wrote before
    /// its call is visible to every member after it (the arrivals form one release sequence,
    /// and the last arrival publishes the new generation with release).
    ///
    /// # Panics
    /// When another member panicked: the barrier is poisoned and the round can never complete.
    pub fn wait(&self) {
        let generation = self.generation.load(Ordering::Acquire);
        if self.arrived.fetch_add(1, Ordering::AcqRel) + 1 == self.members {
            // Reset before the release below, so a member that sees the new generation and
            // arrives again counts from zero.
            self.arrived.store(0, Ordering::Relaxed);
            self.generation.fetch_add(1, Ordering::Release);
            return;
        }
        let mut spins = 0;
        while self.generation.load(Ordering::Acquire) == generation {
            assert!(
                !self.poisoned.load(Ordering::Relaxed),
                "a member of the team panicked"
            );
            if spins < SPINS_BEFORE_YIELD {
                std::hint::spin_loop();
                spins += 1;
            } else {
                std::thread::yield_now();
            }
        }
    }

    fn poison(&self) {
        self.poisoned.store(true, Ordering::Relaxed);
    }
}

/// One member's view of its team.
pub struct Member<'a> {
    /// This member's number, `0..count`.
    pub index: usize,
    pub count: usize,
    pub barrier: &'a SpinBarrier,
}

/// Runs `work` on every thread of the current rayon pool at once and returns each member's
/// result in member order, or `None` (without running anything) when a team cannot be formed
/// safely now (see the module's documentation).
pub fn run<R: Send>(work: impl Fn(Member<'_>) -> R + Sync) -> Option<Vec<R>> {
    if rayon::current_thread_index().is_some()
        || POOL_TAKEN
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
    {
        return None;
    }
    /// Gives the pool back however `run` ends.
    struct Release;
    impl Drop for Release {
        fn drop(&mut self) {
            POOL_TAKEN.store(false, Ordering::Release);
        }
    }
    let _release = Release;
    let barrier = SpinBarrier::new(rayon::current_num_threads());
    Some(rayon::broadcast(|context| {
        /// Poisons the barrier when its member unwinds.
        struct Poison<'a>(&'a SpinBarrier);
        impl Drop for Poison<'_> {
            fn drop(&mut self) {
                if std::thread::panicking() {
                    self.0.poison();
                }
            }
        }
        let _poison = Poison(&barrier);
        work(Member {
            index: context.index(),
            count: context.num_threads(),
            barrier: &barrier,
        })
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    /// `run`, retried while another test's team holds the pool.
    fn team<R: Send>(work: impl Fn(Member<'_>) -> R + Sync) -> Vec<R> {
        loop {
            if let Some(results) = run(&work) {
                return results;
            }
            std::thread::yield_now();
        }
    }

    /// Every member sees every other member's writes of the round before, over many rounds.
    #[test]
    fn members_see_each_others_writes_after_each_wait() {
        let cells: Vec<AtomicU64> = (0..rayon::current_num_threads())
            .map(|_| AtomicU64::new(0))
            .collect();
        let rounds = 2000;
        let sums = team(|member| {
            let mut wrong = 0;
            for round in 1..=rounds {
                cells[member.index].store(round, Ordering::Relaxed);
                member.barrier.wait();
                wrong += cells
                    .iter()
                    .filter(|c| c.load(Ordering::Relaxed) != round)
                    .count();
                member.barrier.wait();
            }
            wrong
        });
        assert_eq!(sums, vec![0; cells.len()]);
    }

    /// A panicking member ends the team with its panic instead of leaving the others spinning.
    #[test]
    fn a_member_that_panics_releases_the_others() {
        let outcome = std::panic::catch_unwind(|| {
            team(|member| {
                if member.index == 0 {
                    panic!("member 0 fails");
                }
                member.barrier.wait();
            })
        });
        assert!(outcome.is_err());
        // The pool is free again afterwards.
        assert_eq!(
            team(|member| member.index).len(),
            rayon::current_num_threads()
        );
    }

    /// From inside the pool a team is declined, not deadlocked.
    #[test]
    fn a_team_is_declined_inside_the_pool() {
        let inner = rayon::scope(|_| run(|member| member.index));
        assert!(inner.is_none());
    }
}
