//! The vector operations the SIMD kernels are written in, once per instruction set.
//!
//! `wide` picks its instructions when it is compiled, and a default x86-64 build only has
//! SSE2, so `wide::f64x4` is two SSE2 registers whatever CPU the program runs on. The baseline
//! path uses it as is; the AVX2 and AVX-512 paths implement the same few operations on the
//! `core::arch` types so that the generic kernel bodies, compiled inside `#[target_feature]`
//! functions (see `super`), really use 256- and 512-bit registers.
//!
//! Every operation here is one IEEE operation with round-to-nearest, the same as the scalar
//! reference. The one fused multiply-add, [`Lanes::sub_four_times`], is used only where its
//! caller has proved it gives the unfused bits (see its documentation), so results are bitwise
//! those of `scalar`.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// `LANES` f64 values in one vector (or a few registers), and a mask of as many lanes.
///
/// # Safety
/// Implementations for an instruction set may only be used inside a function compiled with
/// that instruction set enabled (`#[target_feature]`) on a CPU that has it; every method is
/// `#[inline(always)]` so it is compiled into that function.
pub(super) unsafe trait Lanes: Copy {
    const LANES: usize;
    /// Whether the diffusion row kernel should take a cell's row neighbours from the vectors
    /// beside it ([`Lanes::left_of`], [`Lanes::right_of`]) rather than from unaligned loads.
    /// Measured on Zen 4, 200² x 3276 steps in cache, one core: AVX-512 39 ms with loads
    /// (each one straddles two cache lines) -> 30 ms with `valignq`; AVX2 37 ms with loads
    /// (half of them straddle) -> 42 ms with shifts (two shuffles each).
    const SHIFT_NEIGHBOURS: bool;
    type Mask: Copy;

    fn splat(v: f64) -> Self;
    /// Reads `LANES` values from `src`.
    ///
    /// # Safety
    /// `src..src + LANES` must be readable.
    unsafe fn load_ptr(src: *const f64) -> Self;
    /// Writes `LANES` values to `dst`.
    ///
    /// # Safety
    /// `dst..dst + LANES` must be writable.
    unsafe fn store_ptr(self, dst: *mut f64);
    /// Reads `LANES` values from the start of `src` (`src.len() >= LANES`, checked).
    #[inline(always)]
    fn load(src: &[f64]) -> Self {
        assert!(src.len() >= Self::LANES);
        // SAFETY: just checked.
        unsafe { Self::load_ptr(src.as_ptr()) }
    }
    /// Writes `LANES` values to the start of `dst` (`dst.len() >= LANES`, checked).
    #[inline(always)]
    fn store(self, dst: &mut [f64]) {
        assert!(dst.len() >= Self::LANES);
        // SAFETY: just checked.
        unsafe { self.store_ptr(dst.as_mut_ptr()) }
    }
    fn add(self, other: Self) -> Self;
    fn sub(self, other: Self) -> Self;
    fn mul(self, other: Self) -> Self;
    /// `self - 4 * c` rounded once (`fma(-4, c, self)` where the path has FMA).
    ///
    /// Bitwise equal to `self.sub(four.mul(c))` whenever `4 * c` does not overflow: `4 * c` is
    /// then exact (a power-of-two scaling, subnormals included), so both forms round the same
    /// real number once, and `self + (-(4c))` is by IEEE's definition `self - 4c`, signed
    /// zeros included. Callers must guarantee `|c| < 2^1021` (`rows::Lap::Fused`).
    fn sub_four_times(self, c: Self, four: Self) -> Self;
    /// Whether [`Lanes::centre_of`] is cheaper than a load of the centre cells.
    const CENTRE_FROM_NEIGHBOURS: bool;
    /// `[left[1], right[0], left[3], right[2], ..]`: the centre cells `x..x + LANES` from the
    /// vectors of their left (`x - 1..`) and right (`x + 1..`) neighbours: data movement only.
    fn centre_of(left: Self, right: Self) -> Self;
    /// Lanes where `active` is set and `self < other` (ordered: NaN compares false).
    fn lt_and(self, other: Self, active: Self::Mask) -> Self::Mask;
    fn all_lanes() -> Self::Mask;
    fn any(mask: Self::Mask) -> bool;
    /// The counter `self` advanced by one in the lanes of `mask`. A counter starts as
    /// `splat(0.0)`; what its lanes hold (an f64 count, or an integer in the lane's bits) is the
    /// implementation's, read back with [`Lanes::count_of`].
    fn add_one(self, mask: Self::Mask) -> Self;
    /// The count in one stored lane of a counter.
    fn count_of(lane: f64) -> u32;
    /// The counts of all `LANES` lanes of a counter, written to the start of `out`
    /// (`out.len() >= LANES`, checked).
    #[inline(always)]
    fn store_counts(self, out: &mut [u32]) {
        store_counts_by_lane(self, &mut out[..Self::LANES]);
    }
    /// `[prev[LANES - 1], cur[0], .., cur[LANES - 2]]`: the left neighbours of `cur`'s cells
    /// when `prev` holds the cells before them.
    fn left_of(prev: Self, cur: Self) -> Self;
    /// `[cur[1], .., cur[LANES - 1], next[0]]`: the right neighbours of `cur`'s cells when
    /// `next` holds the cells after them.
    fn right_of(cur: Self, next: Self) -> Self;
}

/// The counts of a counter's first `out.len()` lanes (at most `LANES`), one lane at a time.
#[inline(always)]
pub(super) fn store_counts_by_lane<V: Lanes>(count: V, out: &mut [u32]) {
    let mut lanes = [0.0; 16];
    count.store(&mut lanes);
    for (o, &lane) in out.iter_mut().zip(&lanes[..V::LANES]) {
        *o = V::count_of(lane);
    }
}

/// The baseline: `wide::f64x4`, which a default x86-64 build compiles to SSE2.
unsafe impl Lanes for wide::f64x4 {
    const LANES: usize = 4;
    const SHIFT_NEIGHBOURS: bool = false;
    type Mask = wide::f64x4;

    #[inline(always)]
    fn splat(v: f64) -> Self {
        wide::f64x4::splat(v)
    }
    #[inline(always)]
    unsafe fn load_ptr(src: *const f64) -> Self {
        wide::f64x4::new(unsafe { src.cast::<[f64; 4]>().read_unaligned() })
    }
    #[inline(always)]
    unsafe fn store_ptr(self, dst: *mut f64) {
        unsafe { dst.cast::<[f64; 4]>().write_unaligned(self.to_array()) }
    }
    #[inline(always)]
    fn add(self, other: Self) -> Self {
        self + other
    }
    #[inline(always)]
    fn sub(self, other: Self) -> Self {
        self - other
    }
    #[inline(always)]
    fn mul(self, other: Self) -> Self {
        self * other
    }
    #[inline(always)]
    fn sub_four_times(self, c: Self, four: Self) -> Self {
        // No FMA on the baseline: the unfused form, which is what the fused one equals.
        self - four * c
    }
    const CENTRE_FROM_NEIGHBOURS: bool = false;
    #[inline(always)]
    fn centre_of(left: Self, right: Self) -> Self {
        let (l, r) = (left.to_array(), right.to_array());
        wide::f64x4::new([l[1], r[0], l[3], r[2]])
    }
    #[inline(always)]
    fn lt_and(self, other: Self, active: Self::Mask) -> Self::Mask {
        self.simd_lt(other) & active
    }
    #[inline(always)]
    fn all_lanes() -> Self::Mask {
        wide::f64x4::splat(f64::from_bits(u64::MAX))
    }
    #[inline(always)]
    fn any(mask: Self::Mask) -> bool {
        mask.any()
    }
    #[inline(always)]
    fn add_one(self, mask: Self::Mask) -> Self {
        // A set mask lane is all ones, so `mask & 1.0` is 1.0 there and +0.0 elsewhere.
        self + (mask & wide::f64x4::splat(1.0))
    }
    #[inline(always)]
    fn count_of(lane: f64) -> u32 {
        lane as u32
    }
    #[inline(always)]
    fn left_of(prev: Self, cur: Self) -> Self {
        let (p, c) = (prev.to_array(), cur.to_array());
        wide::f64x4::new([p[3], c[0], c[1], c[2]])
    }
    #[inline(always)]
    fn right_of(cur: Self, next: Self) -> Self {
        let (c, n) = (cur.to_array(), next.to_array());
        wide::f64x4::new([c[1], c[2], c[3], n[0]])
    }
}

/// Four lanes in one AVX register (AVX2 CPUs).
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
pub(super) struct Avx2(__m256d);

#[cfg(target_arch = "x86_64")]
unsafe impl Lanes for Avx2 {
    const LANES: usize = 4;
    const SHIFT_NEIGHBOURS: bool = false;
    type Mask = __m256d;

    #[inline(always)]
    fn splat(v: f64) -> Self {
        Avx2(unsafe { _mm256_set1_pd(v) })
    }
    #[inline(always)]
    unsafe fn load_ptr(src: *const f64) -> Self {
        Avx2(unsafe { _mm256_loadu_pd(src) })
    }
    #[inline(always)]
    unsafe fn store_ptr(self, dst: *mut f64) {
        unsafe { _mm256_storeu_pd(dst, self.0) }
    }
    #[inline(always)]
    fn add(self, other: Self) -> Self {
        Avx2(unsafe { _mm256_add_pd(self.0, other.0) })
    }
    #[inline(always)]
    fn sub(self, other: Self) -> Self {
        Avx2(unsafe { _mm256_sub_pd(self.0, other.0) })
    }
    #[inline(always)]
    fn mul(self, other: Self) -> Self {
        Avx2(unsafe { _mm256_mul_pd(self.0, other.0) })
    }
    #[inline(always)]
    fn sub_four_times(self, c: Self, four: Self) -> Self {
        // `vfnmadd`: self - four * c, one rounding (exact as documented on the trait).
        Avx2(unsafe { _mm256_fnmadd_pd(four.0, c.0, self.0) })
    }
    /// Measured on this project's Zen machines: a load fewer per vector (4 instead of 5,
    /// `vshufpd` instead) is what the row kernel is bound by on AVX2.
    const CENTRE_FROM_NEIGHBOURS: bool = true;
    #[inline(always)]
    fn centre_of(left: Self, right: Self) -> Self {
        // `vshufpd` 0b0101: [left1, right0, left3, right2].
        Avx2(unsafe { _mm256_shuffle_pd::<0b0101>(left.0, right.0) })
    }
    #[inline(always)]
    fn lt_and(self, other: Self, active: Self::Mask) -> Self::Mask {
        unsafe { _mm256_and_pd(_mm256_cmp_pd::<_CMP_LT_OQ>(self.0, other.0), active) }
    }
    #[inline(always)]
    fn all_lanes() -> Self::Mask {
        unsafe { _mm256_castsi256_pd(_mm256_set1_epi64x(-1)) }
    }
    #[inline(always)]
    fn any(mask: Self::Mask) -> bool {
        unsafe { _mm256_movemask_pd(mask) != 0 }
    }
    #[inline(always)]
    fn add_one(self, mask: Self::Mask) -> Self {
        // Integer lanes: a set mask lane is all ones, -1 as an i64, so `count - mask` counts
        // on the integer vector ALU (`vpsubq`), not on the f64 adder the iteration needs.
        unsafe {
            let count = _mm256_castpd_si256(self.0);
            Avx2(_mm256_castsi256_pd(_mm256_sub_epi64(
                count,
                _mm256_castpd_si256(mask),
            )))
        }
    }
    #[inline(always)]
    fn count_of(lane: f64) -> u32 {
        // At most `max_iter`, a u32, so the i64's low half is the count.
        lane.to_bits() as u32
    }
    #[inline(always)]
    fn store_counts(self, out: &mut [u32]) {
        assert!(out.len() >= Self::LANES);
        // The low halves of the four i64 lanes (`count_of`), gathered into the low 128 bits.
        unsafe {
            let low = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
            let counts = _mm256_permutevar8x32_epi32(_mm256_castpd_si256(self.0), low);
            // SAFETY: `out` holds at least four u32, checked above.
            _mm_storeu_si128(out.as_mut_ptr().cast(), _mm256_castsi256_si128(counts));
        }
    }
    #[inline(always)]
    fn left_of(prev: Self, cur: Self) -> Self {
        // straddle = [p2, p3, c0, c1]; `vshufpd` 0b0101 takes [straddle1, cur0, straddle3, cur2].
        let straddle = unsafe { _mm256_permute2f128_pd::<0x21>(prev.0, cur.0) };
        Avx2(unsafe { _mm256_shuffle_pd::<0b0101>(straddle, cur.0) })
    }
    #[inline(always)]
    fn right_of(cur: Self, next: Self) -> Self {
        // straddle = [c2, c3, n0, n1]; `vshufpd` 0b0101 takes [cur1, straddle0, cur3, straddle2].
        let straddle = unsafe { _mm256_permute2f128_pd::<0x21>(cur.0, next.0) };
        Avx2(unsafe { _mm256_shuffle_pd::<0b0101>(cur.0, straddle) })
    }
}

/// Eight lanes in one AVX-512 register, masks in mask registers.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
pub(super) struct Avx512(__m512d);

#[cfg(target_arch = "x86_64")]
unsafe impl Lanes for Avx512 {
    const LANES: usize = 8;
    const SHIFT_NEIGHBOURS: bool = true;
    type Mask = __mmask8;

    #[inline(always)]
    fn splat(v: f64) -> Self {
        Avx512(unsafe { _mm512_set1_pd(v) })
    }
    #[inline(always)]
    unsafe fn load_ptr(src: *const f64) -> Self {
        Avx512(unsafe { _mm512_loadu_pd(src) })
    }
    #[inline(always)]
    unsafe fn store_ptr(self, dst: *mut f64) {
        unsafe { _mm512_storeu_pd(dst, self.0) }
    }
    #[inline(always)]
    fn add(self, other: Self) -> Self {
        Avx512(unsafe { _mm512_add_pd(self.0, other.0) })
    }
    #[inline(always)]
    fn sub(self, other: Self) -> Self {
        Avx512(unsafe { _mm512_sub_pd(self.0, other.0) })
    }
    #[inline(always)]
    fn mul(self, other: Self) -> Self {
        Avx512(unsafe { _mm512_mul_pd(self.0, other.0) })
    }
    #[inline(always)]
    fn sub_four_times(self, c: Self, four: Self) -> Self {
        // `vfnmadd`: self - four * c, one rounding (exact as documented on the trait).
        Avx512(unsafe { _mm512_fnmadd_pd(four.0, c.0, self.0) })
    }
    /// Unused: the AVX-512 path shifts neighbours in from aligned centre loads.
    const CENTRE_FROM_NEIGHBOURS: bool = false;
    #[inline(always)]
    fn centre_of(left: Self, right: Self) -> Self {
        // `vshufpd` on every 128-bit pair: [left1, right0, left3, right2, ..].
        Avx512(unsafe { _mm512_shuffle_pd::<0b0101_0101>(left.0, right.0) })
    }
    #[inline(always)]
    fn lt_and(self, other: Self, active: Self::Mask) -> Self::Mask {
        unsafe { _mm512_mask_cmp_pd_mask::<_CMP_LT_OQ>(active, self.0, other.0) }
    }
    #[inline(always)]
    fn all_lanes() -> Self::Mask {
        0xff
    }
    #[inline(always)]
    fn any(mask: Self::Mask) -> bool {
        mask != 0
    }
    #[inline(always)]
    fn add_one(self, mask: Self::Mask) -> Self {
        Avx512(unsafe { _mm512_mask_add_pd(self.0, mask, self.0, _mm512_set1_pd(1.0)) })
    }
    #[inline(always)]
    fn count_of(lane: f64) -> u32 {
        lane as u32
    }
    #[inline(always)]
    fn store_counts(self, out: &mut [u32]) {
        assert!(out.len() >= Self::LANES);
        // Whole f64 counts below 2^32: truncation to u32 is exact.
        unsafe {
            let counts = _mm512_cvttpd_epu32(self.0);
            // SAFETY: `out` holds at least eight u32, checked above.
            _mm256_storeu_si256(out.as_mut_ptr().cast(), counts);
        }
    }
    #[inline(always)]
    fn left_of(prev: Self, cur: Self) -> Self {
        // `valignq`: the 16 lanes `cur:prev` shifted down by 7.
        unsafe {
            let (p, c) = (_mm512_castpd_si512(prev.0), _mm512_castpd_si512(cur.0));
            Avx512(_mm512_castsi512_pd(_mm512_alignr_epi64::<7>(c, p)))
        }
    }
    #[inline(always)]
    fn right_of(cur: Self, next: Self) -> Self {
        // `valignq`: the 16 lanes `next:cur` shifted down by 1.
        unsafe {
            let (c, n) = (_mm512_castpd_si512(cur.0), _mm512_castpd_si512(next.0));
            Avx512(_mm512_castsi512_pd(_mm512_alignr_epi64::<1>(n, c)))
        }
    }
}
