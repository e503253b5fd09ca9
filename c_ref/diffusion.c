/* 2D diffusion with periodic boundaries (SPEC §1) in C99. See lancehead_ref.h. */
#include <string.h>

#include "lancehead_ref.h"

/* One updated cell in SPEC's canonical operation order. */
static double cell(double up, double down, double left, double right, double c, double k)
{
    double v = up + down;
    double h = left + right;
    double lap = (v + h) - 4.0 * c;
    return c + k * lap;
}

/* One step from `src` into `dst`; rows and columns wrap at the edges. */
static void step(size_t rows, size_t cols, double k, const double *src, double *dst)
{
    /*
     * Every row costs the same; guided scheduling keeps one policy for both kernels. This
     * work-sharing loop runs inside the team that diffusion() starts once; its implicit
     * barrier ends each step before the next begins.
     */
#ifdef _OPENMP
#pragma omp for schedule(guided)
#endif
    for (size_t i = 0; i < rows; i++) {
        const double *up = src + (i == 0 ? rows - 1 : i - 1) * cols;
        const double *mid = src + i * cols;
        const double *down = src + (i + 1 == rows ? 0 : i + 1) * cols;
        double *out = dst + i * cols;
        size_t last = cols - 1;

        if (cols == 1) {
            out[0] = cell(up[0], down[0], mid[0], mid[0], mid[0], k);
            continue;
        }
        /*
         * The two edge columns wrap; the loop between them has no branches to vectorize.
         * build.rs reports what each compiler vectorised of the marked loop.
         */
        out[0] = cell(up[0], down[0], mid[last], mid[1], mid[0], k);
        for (size_t j = 1; j < last; j++) { /* [inner loop] */
            out[j] = cell(up[j], down[j], mid[j - 1], mid[j + 1], mid[j], k);
        }
        out[last] = cell(up[last], down[last], mid[last - 1], mid[0], mid[last], k);
    }
}

void LH_NAME(diffusion)(size_t rows, size_t cols, double k, uint32_t steps, double *grid,
                        double *scratch)
{
    /*
     * Ping-pong between the two buffers, so no step allocates or copies. The OpenMP build
     * starts its threads once for the whole run (every thread walks the steps, sharing out
     * each step's rows): a new team per step would cost more than a small step.
     */
#ifdef _OPENMP
#pragma omp parallel
#endif
    for (uint32_t s = 0; s < steps; s++) {
        if (s % 2 == 0) {
            step(rows, cols, k, grid, scratch);
        } else {
            step(rows, cols, k, scratch, grid);
        }
    }
    if (steps % 2 == 1) {
        memcpy(grid, scratch, rows * cols * sizeof *grid);
    }
}
