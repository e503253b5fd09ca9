/* The Julia set (SPEC §1) in C99. See lancehead_ref.h. */
#include "lancehead_ref.h"

/* The escape count of one pixel, in SPEC's canonical operation order. */
static uint32_t julia_pixel(double zr, double zi, double cr, double ci, uint32_t max_iter)
{
    uint32_t n = 0;
    while (n < max_iter && zr * zr + zi * zi < 4.0) { /* [inner loop] */
        double t = (zr * zr - zi * zi) + cr;
        zi = (2.0 * zr) * zi + ci;
        zr = t;
        n++;
    }
    return n;
}

void LH_NAME(julia)(size_t width, size_t height, const double *xs, const double *ys,
                    double cr, double ci, uint32_t max_iter, uint32_t *counts)
{
    /*
     * Rows cost wildly different amounts (the book's OpenMP lesson, Example 7-12), so the
     * OpenMP build hands them out in shrinking chunks. Each pixel is computed the same way
     * whichever thread takes it, so the result does not depend on the thread count.
     */
#ifdef _OPENMP
#pragma omp parallel for schedule(guided)
#endif
    for (size_t j = 0; j < height; j++) {
        uint32_t *row = counts + j * width;
        for (size_t i = 0; i < width; i++) { /* [inner loop] */
            row[i] = julia_pixel(xs[i], ys[j], cr, ci, max_iter);
        }
    }
}
