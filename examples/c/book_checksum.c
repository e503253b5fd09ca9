/*
 * C calling Lancehead: the book's Julia problem through the C ABI (include/lancehead.h),
 * printing the book's checksum, then a bad call and the error it gets, then the book's
 * diffusion run.
 *
 *   cargo build --release --features capi
 *   cc -std=c99 -I include examples/c/book_checksum.c -L target/release -llancehead \
 *      -Wl,-rpath,target/release -o book_checksum && ./book_checksum [BACKEND]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "lancehead.h"

int main(int argc, char **argv)
{
    const char *backend = argc > 1 ? argv[1] : "scalar";
    const size_t width = 1000, height = 1000;
    uint32_t *counts = malloc(width * height * sizeof *counts);
    if (counts == NULL) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }

    int status = lancehead_julia(backend, width, height, -1.8, 1.8, -1.8, 1.8, -0.62772,
                                 -0.42193, 300, counts, width * height);
    if (status != LANCEHEAD_OK) {
        fprintf(stderr, "lancehead_julia failed (%d): %s\n", status, lancehead_last_error());
        free(counts);
        return 1;
    }
    uint64_t sum = 0;
    for (size_t i = 0; i < width * height; i++) {
        sum += counts[i];
    }
    printf("backend %s: julia 1000x1000 checksum %llu\n", backend, (unsigned long long)sum);

    /* A buffer one element short is refused, not overrun. */
    status = lancehead_julia(backend, width, height, -1.8, 1.8, -1.8, 1.8, -0.62772, -0.42193,
                             300, counts, width * height - 1);
    printf("short buffer: status %d: %s\n", status, lancehead_last_error());
    free(counts);

    /* The book's diffusion run: 256 x 256, the hot square, 500 steps (heat is conserved). */
    const size_t n = 256;
    double *grid = calloc(n * n, sizeof *grid);
    if (grid == NULL) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    for (size_t i = n * 4 / 10; i < n * 5 / 10; i++) {
        for (size_t j = n * 4 / 10; j < n * 5 / 10; j++) {
            grid[i * n + j] = 0.005;
        }
    }
    status = lancehead_diffusion(backend, n, n, 0.1, 1.0, 500, grid, n * n);
    if (status != LANCEHEAD_OK) {
        fprintf(stderr, "lancehead_diffusion failed (%d): %s\n", status, lancehead_last_error());
        free(grid);
        return 1;
    }
    double heat = 0.0;
    for (size_t i = 0; i < n * n; i++) {
        heat += grid[i];
    }
    printf("backend %s: diffusion 256x256 x 500 sum %.12f, u[128][128] %.17g\n", backend, heat,
           grid[128 * n + 128]);
    free(grid);
    return 0;
}
