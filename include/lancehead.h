/*
 * Lancehead's kernels for C (and anything with a C FFI: Python ctypes, ...).
 *
 * Build the library with `cargo build --release --features capi`: target/release/liblancehead.so
 * (.dylib on macOS). Link with -llancehead. Every function checks its arguments and returns
 * one of the LANCEHEAD_* codes; lancehead_last_error() says what went wrong. No function
 * unwinds or aborts on bad input.
 *
 * Arrays are row-major (C order): element (i, j) of a rows x cols array is a[i * cols + j].
 *
 * Threads: every function may be called from any number of threads at once. Each backend is
 * built at its first successful call and that one instance serves every later call. The
 * threaded backends read their thread count from the environment once per process:
 * RAYON_NUM_THREADS (rayon, simd-rayon, simd-wavefront) and OMP_NUM_THREADS (c-openmp), when
 * set, must be an integer from 1 to 16 per logical CPU (OMP_NUM_THREADS may also be OpenMP's
 * comma-separated list of them). Otherwise that backend's calls fail with
 * LANCEHEAD_ERR_BACKEND and a message naming the variable; the other backends still work.
 */
#ifndef LANCEHEAD_H
#define LANCEHEAD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LANCEHEAD_OK 0
#define LANCEHEAD_ERR_NULL_POINTER 1     /* a required pointer was NULL */
#define LANCEHEAD_ERR_INVALID_ARGUMENT 2 /* size, region, c, d*dt, buffer length/alignment */
#define LANCEHEAD_ERR_BACKEND 3          /* unknown, not compiled in, or unavailable here */
#define LANCEHEAD_ERR_OUT_OF_MEMORY 4    /* the workspace could not be allocated */
#define LANCEHEAD_ERR_INTERNAL 5         /* a bug in Lancehead, caught at the boundary */

/*
 * The Julia set: counts[j * width + i] = escape count of z0 = xs[i] + ys[j] i, with
 * xs[i] = x1 + i * ((x2 - x1) / width) and ys[j] = y2 + j * ((y1 - y2) / height) (row 0 is
 * the top edge). `backend` names a backend (`lancehead backends`; NULL means "scalar").
 * `counts` holds counts_len = width * height values; a NULL, misaligned or wrongly sized
 * buffer is refused before anything is computed or allocated for the problem.
 * The book's problem: 1000, 1000, -1.8, 1.8, -1.8, 1.8, -0.62772, -0.42193, 300; the sum of
 * its counts is 33219980.
 */
int lancehead_julia(const char *backend, size_t width, size_t height, double x1, double x2,
                    double y1, double y2, double cr, double ci, uint32_t max_iter,
                    uint32_t *counts, size_t counts_len);

/*
 * 2D diffusion, periodic boundaries: advances the rows x cols grid (grid_len = rows * cols
 * values) by `steps` explicit-Euler steps in place. Requires d * dt <= 0.25; the book uses
 * dt = 0.1, d = 1.0.
 * Every value of the initial grid must be finite: a NaN or an infinity is refused with
 * LANCEHEAD_ERR_INVALID_ARGUMENT ("grid: value at (ROW, COL) is NaN; every value must be
 * finite") and the grid is left untouched, the rule the command line applies to an `--init`
 * file. (Values that overflow during the run are IEEE arithmetic and are kept.)
 */
int lancehead_diffusion(const char *backend, size_t rows, size_t cols, double dt, double d,
                        uint32_t steps, double *grid, size_t grid_len);

/* What this thread's last failed call went wrong with ("" after a success): each thread has
 * its own, untouched by the others' calls. Valid until this thread's next Lancehead call. */
const char *lancehead_last_error(void);

#ifdef __cplusplus
}
#endif

#endif
