//! A team: every thread of rayon's pool running one closure at once, meeting at a spinning
//! barrier, for kernels whose steps are too short for a fork-join per step.
//!
//! A `par_chunks_mut` per pass puts the workers to sleep and wakes them again each time: tens
//! of microseconds per pass, as much as a whole pass costs on a grid that fits in cache. A team
//! is formed once per call ([`rayon::broadcast`]) and its members meet at a [`SpinBarrier`],
//! about a cache-line transfer when both cores are free.
//!
//! Members that spin for each other must all arrive, so a team is formed only from outside the
//! pool (a member that is itself a worker waiting on a lock could never arrive) and while no
//! other team holds the pool (two teams broadcast at once could each hold one worker and wait
//! for the other's). Otherwise [`run`] declines and the caller uses its fork-join path. A
//! worker busy with other rayon work, or waiting inside rayon (`join`, `scope`), only delays
//! the team: it picks up its member's job when it is free. The one case left is a rayon job of
//! some other thread that blocks outside rayon, on a lock or I/O, until the team's caller moves
//! on: its worker never arrives and the team waits for ever, where a fork-join would have run
//! every band on the other workers. Nothing in this crate runs such jobs; a program that puts
//! them on the global pool must not call the team's users (`simd-wavefront`) at the same time.
//!
//! A member that panics poisons the barrier, so the others leave it instead of spinning for
//! ever, and its panic, not theirs, reaches the caller.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Spins before a waiting member starts yielding its CPU: 48-60 µs on the Intel machine (a
/// `pause` there takes 12-15 ns, a `yield_now` 0.23-0.34 µs; `examples/team_costs` measures
/// them): longer than a free partner with the same work needs to arrive, short enough that an
/// oversubscribed pool soon gives the CPU to the member it waits for.
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
    /// It unwinds with a [`Poisoned`] payload (and without the panic hook's message), which
    /// [`run`] replaces with the first member's own panic.
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
            if self.poisoned.load(Ordering::Relaxed) {
                std::panic::resume_unwind(Box::new(Poisoned));
            }
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

/// The payload a member unwinds with when it leaves a poisoned barrier.
#[derive(Debug)]
pub struct Poisoned;

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
    let results = rayon::broadcast(|context| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            work(Member {
                index: context.index(),
                count: context.num_threads(),
                barrier: &barrier,
            })
        }))
        .inspect_err(|_| barrier.poison())
    });
    let (mut values, mut panics) = (Vec::with_capacity(results.len()), Vec::new());
    for result in results {
        match result {
            Ok(value) => values.push(value),
            Err(payload) => panics.push(payload),
        }
    }
    // A member's own panic, in preference to the others' `Poisoned` ones.
    if let Some(payload) = panics.into_iter().min_by_key(|p| p.is::<Poisoned>()) {
        std::panic::resume_unwind(payload);
    }
    Some(values)
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

    /// A panicking member ends the team with its own panic instead of leaving the others
    /// spinning, whichever member it is.
    #[test]
    fn a_member_that_panics_releases_the_others() {
        let last = rayon::current_num_threads() - 1;
        let outcome = std::panic::catch_unwind(|| {
            team(|member| {
                if member.index == last {
                    panic!("the last member fails");
                }
                member.barrier.wait();
            })
        });
        let payload = outcome.expect_err("the panic reaches the caller");
        assert_eq!(
            payload.downcast_ref::<&str>(),
            Some(&"the last member fails")
        );
        // The pool is free again afterwards.
        assert_eq!(
            team(|member| member.index).len(),
            rayon::current_num_threads()
        );
    }

    /// While one team holds the pool another is declined, not left waiting for its workers.
    #[test]
    fn a_second_team_is_declined_while_one_holds_the_pool() {
        let declined = team(|member| {
            let declined = member.index == 0
                && std::thread::spawn(|| run(|member| member.index).is_none())
                    .join()
                    .unwrap();
            member.barrier.wait();
            declined
        });
        assert!(declined[0]);
    }

    /// From inside the pool a team is declined, not deadlocked.
    #[test]
    fn a_team_is_declined_inside_the_pool() {
        let inner = rayon::scope(|_| run(|member| member.index));
        assert!(inner.is_none());
    }
}
