//! Halo exchange: which rows each rank sends to and receives from which, and the exchange
//! itself (non-blocking, overlapped with the slab's interior).
//!
//! A rank's halo of depth `d` is the `d` global rows above its slab and the `d` below,
//! wrapping periodically. They are owned by whichever ranks own those rows: the neighbours,
//! or ranks further away when a slab is thinner than the halo, or the rank itself (one rank;
//! two ranks, where the same neighbour is above and below; a halo deeper than the grid). Every
//! rank derives the whole plan from the slab split alone, so the sends of one rank match the
//! receives of another without any negotiation, and a message's tag is the receiving row's
//! position in the receiver's buffer, unique for every message a rank receives.

use std::ops::Range;

use mpi::point_to_point::{Destination, Source};
use mpi::request::{RequestCollection, multiple_scope};
use mpi::topology::Communicator;

use crate::mpi::slab::Slabs;
use crate::mpi::world::World;

/// A run of whole rows moved between two ranks, or within one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// The other rank.
    pub peer: usize,
    /// Rows of the sender's local buffer (its slab rows, offset by its halo).
    pub from: Range<usize>,
    /// First row of the receiver's local buffer (a halo row) they land in.
    pub to: usize,
    /// The message's tag: the first row's place among the receiver's `2 * halo` halo rows,
    /// unique among the messages one rank receives (and small: MPI guarantees tags to 32767).
    pub tag: i32,
}

/// One rank's part of a halo exchange of depth `depth`, in local buffer rows (halo rows
/// `0..halo`, the slab `halo..halo + rows`, halo rows after it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HaloPlan {
    /// Rows this rank receives (`peer` is the sender).
    pub receive: Vec<Transfer>,
    /// Rows this rank sends (`peer` is the receiver).
    pub send: Vec<Transfer>,
    /// Rows this rank copies from its own slab into its own halo.
    pub copy: Vec<Transfer>,
}

impl HaloPlan {
    /// The plan of rank `me` over `slabs`, for buffers with `halo` ghost rows each side and
    /// an exchange of the `depth <= halo` rows next to the slab.
    pub fn new(slabs: Slabs, me: usize, halo: usize, depth: usize) -> HaloPlan {
        assert!(depth <= halo);
        let mut plan = HaloPlan::default();
        for receiver in 0..slabs.ranks {
            for t in incoming(slabs, receiver, halo, depth) {
                let sender = t.peer;
                if receiver == me && sender == me {
                    plan.copy.push(t);
                } else if receiver == me {
                    plan.receive.push(t);
                } else if sender == me {
                    plan.send.push(Transfer {
                        peer: receiver,
                        ..t
                    });
                }
            }
        }
        plan
    }
}

/// The runs of rows rank `receiver` needs, each with its sender in `peer`: its `depth` halo
/// rows above and below, as maximal runs of consecutive rows of one sender.
fn incoming(slabs: Slabs, receiver: usize, halo: usize, depth: usize) -> Vec<Transfer> {
    let mine = slabs.range(receiver);
    if mine.is_empty() {
        return Vec::new();
    }
    let rows = slabs.rows as isize;
    // (position in the receiver's buffer, global row), top halo then bottom halo.
    let top = (0..depth).map(|j| {
        let to = halo - depth + j;
        (to, to, mine.start as isize - depth as isize + j as isize)
    });
    let bottom = (0..depth).map(|j| (halo + mine.len() + j, halo + j, (mine.end + j) as isize));
    let mut runs: Vec<Transfer> = Vec::new();
    for (to, tag, global) in top.chain(bottom) {
        let global = global.rem_euclid(rows) as usize;
        let sender = slabs.owner(global);
        let from = halo + global - slabs.range(sender).start;
        match runs.last_mut() {
            Some(run)
                if run.peer == sender && run.from.end == from && run.to + run.from.len() == to =>
            {
                run.from.end += 1
            }
            _ => runs.push(Transfer {
                peer: sender,
                from: from..from + 1,
                to,
                tag: tag as i32,
            }),
        }
    }
    runs
}

/// What runs while halo rows travel: given the slab's rows and a function that lets the
/// transport move them along.
pub type During<'a> = dyn FnMut(&[f64], &mut dyn FnMut()) + 'a;

/// Moves halo rows into place while the caller computes what needs none.
pub trait Halos {
    /// Carries out `plan` on `buffer` (a local buffer: `halo` ghost rows, `rows` slab rows,
    /// `halo` ghost rows, each `cols` long), calling `during(slab, progress)` with the slab's
    /// rows while the halo rows are in flight; `progress` lets the transport move them along.
    fn exchange(
        &self,
        plan: &HaloPlan,
        cols: usize,
        buffer: &mut [f64],
        halo: usize,
        rows: usize,
        during: &mut During<'_>,
    );
}

/// The halos of a world of one rank: copies within the buffer.
pub struct Loopback;

impl Halos for Loopback {
    fn exchange(
        &self,
        plan: &HaloPlan,
        cols: usize,
        buffer: &mut [f64],
        halo: usize,
        rows: usize,
        during: &mut During<'_>,
    ) {
        assert!(
            plan.send.is_empty() && plan.receive.is_empty(),
            "a world of one rank"
        );
        copy_own(plan, cols, buffer);
        during(&buffer[halo * cols..(halo + rows) * cols], &mut || {});
    }
}

fn copy_own(plan: &HaloPlan, cols: usize, buffer: &mut [f64]) {
    for t in &plan.copy {
        buffer.copy_within(t.from.start * cols..t.from.end * cols, t.to * cols);
    }
}

/// The halos of an MPI world: `MPI_Isend`/`MPI_Irecv` of whole rows straight from and into
/// the buffers, tested between pieces of the interior so that the library moves them along,
/// and waited for at the end.
pub struct MpiHalos<'w> {
    pub world: &'w World,
}

impl Halos for MpiHalos<'_> {
    fn exchange(
        &self,
        plan: &HaloPlan,
        cols: usize,
        buffer: &mut [f64],
        halo: usize,
        rows: usize,
        during: &mut During<'_>,
    ) {
        copy_own(plan, cols, buffer);
        let comm = &self.world.comm;
        // Disjoint borrows: the halo rows that receive, the slab that is sent and computed.
        let (above, rest) = buffer.split_at_mut(halo * cols);
        let (slab, below) = rest.split_at_mut(rows * cols);
        let slab: &[f64] = slab;
        let mut receive = plan.receive.clone();
        receive.sort_by_key(|t| t.to);
        multiple_scope(
            plan.send.len() + receive.len(),
            |scope, requests: &mut RequestCollection<'_, [f64]>| {
                // Cut the receiving rows out of the two halos in order of position.
                let (mut above, mut below) = (&mut above[..], &mut below[..]);
                let (mut above_at, mut below_at) = (0, halo + rows);
                for t in &receive {
                    let len = t.from.len() * cols;
                    let (side, at) = if t.to < halo {
                        (&mut above, &mut above_at)
                    } else {
                        (&mut below, &mut below_at)
                    };
                    let rest = std::mem::take(side);
                    let (_, rest) = rest.split_at_mut((t.to - *at) * cols);
                    let (into, rest) = rest.split_at_mut(len);
                    *side = rest;
                    *at = t.to + t.from.len();
                    let source = comm.process_at_rank(t.peer as i32);
                    requests.add(source.immediate_receive_into_with_tag(scope, into, t.tag));
                }
                for t in &plan.send {
                    let rows = &slab[(t.from.start - halo) * cols..(t.from.end - halo) * cols];
                    let dest = comm.process_at_rank(t.peer as i32);
                    requests.add(dest.immediate_send_with_tag(scope, rows, t.tag));
                }
                let mut done = Vec::new();
                during(slab, &mut || {
                    // (rsmpi's test_some fails on a collection with nothing left to complete.)
                    if requests.incomplete() > 0 {
                        requests.test_some(&mut done);
                    }
                });
                if requests.incomplete() > 0 {
                    requests.wait_all(&mut done);
                }
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every rank's halo rows, filled by the plans of all ranks from buffers that hold global
    /// row numbers, are the global rows above and below its slab, wrapping: for thin slabs,
    /// idle ranks, one and two ranks, halos deeper than a slab and than the grid.
    #[test]
    fn plans_bring_every_rank_the_rows_around_its_slab() {
        for rows in 1..14 {
            for ranks in 1..7 {
                let slabs = Slabs::new(rows, ranks);
                for halo in 1..6 {
                    for depth in 1..=halo {
                        check(slabs, halo, depth);
                    }
                }
            }
        }
    }

    fn check(slabs: Slabs, halo: usize, depth: usize) {
        // One column; each cell holds its global row, halos start as -1.
        let mut buffers: Vec<Vec<f64>> = (0..slabs.ranks)
            .map(|r| {
                let range = slabs.range(r);
                let mut b = vec![-1.0; range.len() + 2 * halo];
                for (i, g) in range.enumerate() {
                    b[halo + i] = g as f64;
                }
                b
            })
            .collect();
        let plans: Vec<HaloPlan> = (0..slabs.ranks)
            .map(|r| HaloPlan::new(slabs, r, halo, depth))
            .collect();
        for (r, plan) in plans.iter().enumerate() {
            for t in &plan.copy {
                let b = &mut buffers[r];
                b.copy_within(t.from.clone(), t.to);
            }
            for t in &plan.receive {
                let sent = plans[t.peer]
                    .send
                    .iter()
                    .filter(|s| s.peer == r && s.tag == t.tag)
                    .collect::<Vec<_>>();
                assert_eq!(sent.len(), 1, "exactly one matching send");
                assert_eq!((&sent[0].from, sent[0].to), (&t.from, t.to));
                let rows: Vec<f64> = buffers[t.peer][t.from.clone()].to_vec();
                buffers[r][t.to..t.to + rows.len()].copy_from_slice(&rows);
            }
        }
        for (r, buffer) in buffers.iter().enumerate() {
            let range = slabs.range(r);
            if range.is_empty() {
                continue;
            }
            let n = slabs.rows as isize;
            for j in 0..depth {
                let above = (range.start as isize - depth as isize + j as isize).rem_euclid(n);
                let below = ((range.end + j) as isize).rem_euclid(n);
                let ctx = format!("{slabs:?} rank {r} halo {halo} depth {depth} row {j}");
                assert_eq!(buffer[halo - depth + j], above as f64, "{ctx} above");
                assert_eq!(buffer[halo + range.len() + j], below as f64, "{ctx} below");
            }
        }
        let sends: usize = plans.iter().map(|p| p.send.len()).sum();
        let receives: usize = plans.iter().map(|p| p.receive.len()).sum();
        assert_eq!(sends, receives);
    }
}
