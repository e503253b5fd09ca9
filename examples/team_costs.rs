//! What a thread team saves: the cost of one rayon fork-join (a `broadcast` of an empty
//! closure, the workers asleep in between, as between the passes of a fork-join backend)
//! against one round of the team's spinning barrier, and how long a waiting member spins
//! before it yields. The figures behind `backend::team` and docs/performance.md.
//!
//! ```text
//! cargo run --release --example team_costs
//! ```

use std::time::Instant;

use lancehead::backend::team;

fn main() {
    const ROUNDS: u32 = 10_000;
    for _ in 0..3 {
        let start = Instant::now();
        for _ in 0..ROUNDS {
            rayon::broadcast(|_| ());
        }
        let fork_join = start.elapsed() / ROUNDS;
        let start = Instant::now();
        let formed = team::run(|member| {
            for _ in 0..ROUNDS {
                member.barrier.wait()
            }
        });
        let barrier = start.elapsed() / ROUNDS;
        let start = Instant::now();
        for _ in 0..4096 {
            std::hint::spin_loop();
        }
        let spins = start.elapsed();
        let start = Instant::now();
        for _ in 0..1000 {
            std::thread::yield_now();
        }
        let yielded = start.elapsed() / 1000;
        println!(
            "{} threads: fork-join {fork_join:?}, barrier round {}, 4096 spins {spins:?}, \
             yield_now {yielded:?}",
            rayon::current_num_threads(),
            if formed.is_some() {
                format!("{barrier:?}")
            } else {
                "(no team)".to_string()
            },
        );
    }
}
