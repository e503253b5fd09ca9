//! The diffusion checksum of a grid spread over ranks: numpy's pairwise sum of the whole
//! row-major grid, to the bit, whatever the rank count.
//!
//! An `MPI_Allreduce` of the ranks' partial sums would add them in an order that depends on
//! the rank count (and on the library). Instead the tree of numpy's pairwise summation, which
//! depends only on the element count, is walked on every rank: each rank sums the largest
//! nodes of the tree that lie inside its rows (a sub-slice's pairwise sum is its node's sum),
//! and sends those sums plus its elements of the few leaves (128 elements at most) that
//! straddle a rank boundary. Rank 0 gathers them in rank order and evaluates the tree's top:
//! O(log n + 128) numbers per rank, the very additions of `numpy.sum`.

use std::collections::HashMap;
use std::ops::Range;

use crate::mpi::world::World;
use crate::problem::diffusion::{pairwise, pairwise_split};

/// What a rank contributes to the tree over `0..n`, in tree order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    /// A node inside the rank's elements: its sum.
    Node { start: usize, len: usize },
    /// The rank's elements of a leaf that straddles ranks: the values themselves.
    Elements(Range<usize>),
}

fn pieces(start: usize, len: usize, mine: &Range<usize>, out: &mut Vec<Piece>) {
    let end = start + len;
    if end <= mine.start || mine.end <= start || mine.is_empty() {
        return;
    }
    if mine.start <= start && end <= mine.end {
        out.push(Piece::Node { start, len });
        return;
    }
    match pairwise_split(len) {
        None => out.push(Piece::Elements(start.max(mine.start)..end.min(mine.end))),
        Some(half) => {
            pieces(start, half, mine, out);
            pieces(start + half, len - half, mine, out);
        }
    }
}

/// The values a rank with elements `mine` (global indices into `0..n`, held in `local`)
/// contributes.
fn contribution(n: usize, mine: &Range<usize>, local: &[f64]) -> Vec<f64> {
    let mut list = Vec::new();
    pieces(0, n, mine, &mut list);
    let mut values = Vec::new();
    for piece in list {
        match piece {
            Piece::Node { start, len } => {
                let at = start - mine.start;
                values.push(pairwise(&local[at..at + len]));
            }
            Piece::Elements(range) => {
                values.extend_from_slice(&local[range.start - mine.start..range.end - mine.start])
            }
        }
    }
    values
}

/// The pairwise sum over `0..n` from every rank's contribution (`ranges[r]`, `values[r]`).
fn combine(n: usize, ranges: &[Range<usize>], values: &[Vec<f64>]) -> f64 {
    let mut nodes = HashMap::new();
    let mut elements = HashMap::new();
    for (range, values) in ranges.iter().zip(values) {
        let mut list = Vec::new();
        pieces(0, n, range, &mut list);
        let mut at = values.iter();
        for piece in list {
            match piece {
                Piece::Node { start, len } => {
                    nodes.insert((start, len), *at.next().expect("one sum per node"));
                }
                Piece::Elements(r) => {
                    for i in r {
                        elements.insert(i, *at.next().expect("one value per element"));
                    }
                }
            }
        }
    }
    evaluate(0, n, &nodes, &elements)
}

fn evaluate(
    start: usize,
    len: usize,
    nodes: &HashMap<(usize, usize), f64>,
    elements: &HashMap<usize, f64>,
) -> f64 {
    if let Some(&sum) = nodes.get(&(start, len)) {
        return sum;
    }
    match pairwise_split(len) {
        None => {
            let leaf: Vec<f64> = (start..start + len).map(|i| elements[&i]).collect();
            pairwise(&leaf)
        }
        Some(half) => {
            evaluate(start, half, nodes, elements)
                + evaluate(start + half, len - half, nodes, elements)
        }
    }
}

/// numpy's pairwise sum of the `n`-element grid whose elements `mine` this rank holds in
/// `local`: on rank 0 `Some(sum)`, `None` on the others. Collective.
pub fn distributed_sum(world: &World, n: usize, mine: Range<usize>, local: &[f64]) -> Option<f64> {
    let values = contribution(n, &mine, local);
    let all = world.gather_varcount(&values);
    let bounds = world.gather_varcount(&[mine.start as u64, mine.end as u64]);
    let ranges: Vec<Range<usize>> = bounds?
        .iter()
        .map(|b| b[0] as usize..b[1] as usize)
        .collect();
    Some(combine(n, &ranges, &all?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::stress::Rng;

    /// Split over any number of ranks, with leaves straddling them, thin slabs and idle ranks,
    /// the combined sum is numpy's pairwise sum of the whole, bit for bit.
    #[test]
    fn the_tree_combined_over_ranks_is_the_whole_pairwise_sum() {
        let mut rng = Rng::new(7);
        for n in [1, 7, 8, 9, 127, 128, 129, 130, 257, 1000, 4099, 20_000] {
            // Values of every magnitude, so a changed order of additions shows.
            let data: Vec<f64> = (0..n).map(|_| rng.any_magnitude(60)).collect();
            let want = pairwise(&data);
            for ranks in [1, 2, 3, 4, 7, 64, 1500] {
                let ranges: Vec<Range<usize>> = (0..ranks)
                    .map(|r| (n * r / ranks)..(n * (r + 1) / ranks))
                    .collect();
                let values: Vec<Vec<f64>> = ranges
                    .iter()
                    .map(|r| contribution(n, r, &data[r.clone()]))
                    .collect();
                let got = combine(n, &ranges, &values);
                assert_eq!(got.to_bits(), want.to_bits(), "n {n}, {ranks} ranks");
            }
        }
    }
}
