/*
 * Lancehead reference kernels in C99: the Julia set and 2D diffusion of SPEC §1, written as
 * plainly as the book's C (Example 7-20), for the `c`, `c-native` and `c-openmp` backends.
 *
 * Arrays are row-major, as Rust and numpy (order='C') lay them out: element (i, j) of a
 * rows x cols array is a[i * cols + j]. The caller owns every buffer and guarantees the
 * lengths; Lancehead's Rust wrappers (src/ffi/) check them before calling.
 */
#ifndef LANCEHEAD_REF_H
#define LANCEHEAD_REF_H

#include <stddef.h>
#include <stdint.h>

/*
 * build.rs compiles these sources once per compiler and flag strategy (`c`, `c-native`,
 * `c-openmp`, `c-clang-O2`, ...), into one program. LH_PREFIX gives each copy its own symbol
 * names (lh_c_julia, lh_c_native_julia, lh_c_clang_o2_julia, ...) so they do not collide.
 */
#ifndef LH_PREFIX
#define LH_PREFIX lh_c_
#endif
#define LH_PASTE_(a, b) a##b
#define LH_PASTE(a, b) LH_PASTE_(a, b)
#define LH_NAME(name) LH_PASTE(LH_PREFIX, name)

/*
 * Escape counts of the Julia set: counts[j * width + i] for the pixel z0 = xs[i] + ys[j] i.
 * xs (width values) and ys (height values) are the coordinates Rust computed once
 * (JuliaParams::xs/ys), so no backend rounds a coordinate differently.
 */
void LH_NAME(julia)(size_t width, size_t height, const double *xs, const double *ys,
                    double cr, double ci, uint32_t max_iter, uint32_t *counts);

/*
 * Advances the rows x cols grid by `steps` explicit-Euler steps with k = d * dt, periodic in
 * both directions. `scratch` (same size, not overlapping `grid`) is workspace, so the call
 * allocates nothing; the result is in `grid`.
 */
void LH_NAME(diffusion)(size_t rows, size_t cols, double k, uint32_t steps, double *grid,
                        double *scratch);

#endif
