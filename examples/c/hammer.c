/*
 * Many threads calling Lancehead's C ABI at once (include/lancehead.h).
 *
 * Every backend named on the command line runs both kernels on several problems, first on
 * one thread, then from 8 threads at once, each thread in its own order, so that Julia and
 * diffusion calls on different backends overlap. Every concurrent result must be bitwise the
 * serial one. Between its calls each thread also makes failing calls whose messages only it
 * can have, and checks that lancehead_last_error() gives back its own message, and "" after
 * its own successful calls, whatever the other threads do meanwhile.
 *
 *   cargo build --release --features capi
 *   cc -std=c99 -pthread -I include examples/c/hammer.c -L target/release -llancehead \
 *      -Wl,-rpath,target/release -o hammer && ./hammer scalar rayon c-openmp
 *
 * Prints one line and exits 0 when everything agrees; names each mismatch and exits 1;
 * exits 2 when a backend cannot run at all.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lancehead.h"

#define THREADS 8
#define ROUNDS 2
#define MAX_BACKENDS 32
#define MESSAGE 256

struct julia_problem {
    size_t width, height;
    double x1, x2, y1, y2, cr, ci;
    uint32_t max_iter;
};

struct diffusion_problem {
    size_t rows, cols;
    double dt, d;
    uint32_t steps;
};

/* Single rows and columns, sizes no vector width or thread count divides, zero steps and
 * zero iterations, and a region on the edge of the set where the counts run long. */
static const struct julia_problem JULIA[] = {
    {97, 61, -1.8, 1.8, -1.8, 1.8, -0.62772, -0.42193, 300},
    {1, 37, -2.0, 1.0, -1.25, 1.5, 0.285, 0.01, 1000},
    {64, 1, -1.8, 1.8, -1.8, 1.8, -0.8, 0.156, 500},
    {53, 47, -0.45, 0.05, 0.3, 0.8, -0.7269, 0.1889, 2000},
    {2, 2, -1.8, 1.8, -1.8, 1.8, -0.62772, -0.42193, 0},
};
static const struct diffusion_problem DIFFUSION[] = {
    {31, 67, 0.1, 1.0, 13}, {1, 40, 0.1, 1.0, 7},  {40, 1, 0.05, 2.0, 8},
    {129, 35, 0.25, 1.0, 9}, {3, 3, 0.1, 1.0, 0},
};
#define N_JULIA (sizeof JULIA / sizeof JULIA[0])
#define N_DIFFUSION (sizeof DIFFUSION / sizeof DIFFUSION[0])
#define N_PROBLEMS (N_JULIA + N_DIFFUSION)

static const char *backends[MAX_BACKENDS];
static size_t n_backends;
/* The serial results: [backend][problem], counts for Julia problems, grids for diffusion. */
static void *serial[MAX_BACKENDS][N_PROBLEMS];
static double *initial[N_DIFFUSION];

static size_t cells(size_t problem)
{
    if (problem < N_JULIA) {
        return JULIA[problem].width * JULIA[problem].height;
    }
    return DIFFUSION[problem - N_JULIA].rows * DIFFUSION[problem - N_JULIA].cols;
}

static size_t bytes(size_t problem)
{
    return cells(problem) * (problem < N_JULIA ? sizeof(uint32_t) : sizeof(double));
}

/* Runs `problem` on backend `b` into `out` (bytes(problem) long). */
static int run(size_t b, size_t problem, void *out)
{
    if (problem < N_JULIA) {
        const struct julia_problem *p = &JULIA[problem];
        return lancehead_julia(backends[b], p->width, p->height, p->x1, p->x2, p->y1, p->y2,
                               p->cr, p->ci, p->max_iter, out, cells(problem));
    }
    const struct diffusion_problem *p = &DIFFUSION[problem - N_JULIA];
    memcpy(out, initial[problem - N_JULIA], bytes(problem));
    return lancehead_diffusion(backends[b], p->rows, p->cols, p->dt, p->d, p->steps, out,
                               cells(problem));
}

/* splitmix64: the same pseudo-random grids on every run. */
static uint64_t next(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

struct worker {
    size_t index;
    pthread_barrier_t *start;
    size_t calls, mismatches, error_checks, error_failures;
    char first_failure[MESSAGE];
};

static void fail(struct worker *w, const char *what)
{
    if (w->mismatches + w->error_failures == 0) {
        snprintf(w->first_failure, sizeof w->first_failure, "thread %zu: %s", w->index, what);
    }
}

/* A call that fails with a message only this thread's call can have, written to `expected`. */
static int fail_own_way(struct worker *w, size_t b, size_t round, void *buffer,
                        char expected[MESSAGE])
{
    size_t len = 1 + w->index + THREADS * round, height = 1000 + w->index;
    snprintf(expected, MESSAGE, "counts_len is %zu, expected %zu * 7 elements", len, height);
    return lancehead_julia(backends[b], 7, height, -1.8, 1.8, -1.8, 1.8, 0.0, 0.0, 10, buffer,
                           len);
}

/* Checks that the call just made failed as it should and left its message for this thread. */
static void check_own_error(struct worker *w, int status, const char *expected)
{
    char what[2 * MESSAGE + 64];
    w->error_checks++;
    if (status != LANCEHEAD_ERR_INVALID_ARGUMENT || strcmp(lancehead_last_error(), expected)) {
        w->error_failures++;
        snprintf(what, sizeof what, "status %d, last error \"%s\", expected \"%s\"", status,
                 lancehead_last_error(), expected);
        fail(w, what);
    }
}

static void *hammer(void *arg)
{
    struct worker *w = arg;
    size_t largest = 0;
    for (size_t p = 0; p < N_PROBLEMS; p++) {
        largest = bytes(p) > largest ? bytes(p) : largest;
    }
    void *out = malloc(largest);
    if (out == NULL) {
        fail(w, "out of memory");
        w->error_failures++;
        return NULL;
    }
    /* Every thread fails its own way, then all wait: the message written last is then some
     * other thread's for all but one of them, so a shared last error could not pass. */
    char expected[MESSAGE];
    pthread_barrier_wait(w->start);
    int failed = fail_own_way(w, 0, ROUNDS, out, expected);
    pthread_barrier_wait(w->start);
    check_own_error(w, failed, expected);

    size_t jobs = n_backends * N_PROBLEMS;
    for (size_t round = 0; round < ROUNDS; round++) {
        for (size_t k = 0; k < jobs; k++) {
            /* Each thread starts elsewhere; odd threads walk backwards. */
            size_t job = (w->index % 2 == 0 ? k : 2 * jobs - k) + w->index * 7;
            size_t b = job % jobs / N_PROBLEMS, problem = job % N_PROBLEMS;
            int status = run(b, problem, out);
            char what[MESSAGE];
            w->calls++;
            if (status != LANCEHEAD_OK) {
                w->mismatches++;
                snprintf(what, sizeof what, "%s problem %zu failed (%d): %s", backends[b],
                         problem, status, lancehead_last_error());
                fail(w, what);
            } else if (memcmp(out, serial[b][problem], bytes(problem)) != 0) {
                w->mismatches++;
                snprintf(what, sizeof what, "%s problem %zu differs from the serial result",
                         backends[b], problem);
                fail(w, what);
            }
            /* A success leaves "" for this thread, whatever the others' calls left. */
            w->error_checks++;
            if (status == LANCEHEAD_OK && lancehead_last_error()[0] != '\0') {
                w->error_failures++;
                snprintf(what, sizeof what, "last error \"%s\" after a success",
                         lancehead_last_error());
                fail(w, what);
            }
            if (k % 3 == w->index % 3) {
                failed = fail_own_way(w, b, round, out, expected);
                check_own_error(w, failed, expected);
            }
        }
    }
    free(out);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2 || (size_t)argc - 1 > MAX_BACKENDS) {
        fprintf(stderr, "usage: hammer BACKEND... (at most %d)\n", MAX_BACKENDS);
        return 2;
    }
    n_backends = (size_t)argc - 1;
    for (size_t b = 0; b < n_backends; b++) {
        backends[b] = argv[b + 1];
    }
    uint64_t state = 7;
    for (size_t i = 0; i < N_DIFFUSION; i++) {
        initial[i] = malloc(bytes(N_JULIA + i));
        if (initial[i] == NULL) {
            fprintf(stderr, "out of memory\n");
            return 2;
        }
        for (size_t c = 0; c < cells(N_JULIA + i); c++) {
            initial[i][c] = (double)(next(&state) >> 11) / 9007199254740992.0;
        }
    }
    /* The serial results, one call at a time on this thread. */
    for (size_t b = 0; b < n_backends; b++) {
        for (size_t p = 0; p < N_PROBLEMS; p++) {
            serial[b][p] = malloc(bytes(p));
            if (serial[b][p] == NULL) {
                fprintf(stderr, "out of memory\n");
                return 2;
            }
            int status = run(b, p, serial[b][p]);
            if (status != LANCEHEAD_OK) {
                fprintf(stderr, "hammer: %s cannot run problem %zu (%d): %s\n", backends[b], p,
                        status, lancehead_last_error());
                return 2;
            }
        }
    }

    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, THREADS);
    pthread_t threads[THREADS];
    struct worker workers[THREADS];
    for (size_t t = 0; t < THREADS; t++) {
        workers[t] = (struct worker){.index = t, .start = &start};
        if (pthread_create(&threads[t], NULL, hammer, &workers[t]) != 0) {
            fprintf(stderr, "hammer: cannot start thread %zu\n", t);
            return 2;
        }
    }
    size_t calls = 0, mismatches = 0, error_checks = 0, error_failures = 0;
    for (size_t t = 0; t < THREADS; t++) {
        pthread_join(threads[t], NULL);
        calls += workers[t].calls;
        mismatches += workers[t].mismatches;
        error_checks += workers[t].error_checks;
        error_failures += workers[t].error_failures;
        if (workers[t].first_failure[0] != '\0') {
            fprintf(stderr, "hammer: %s\n", workers[t].first_failure);
        }
    }
    pthread_barrier_destroy(&start);
    printf("hammer: %d threads, %zu calls on %zu backends: %zu differ from the serial results; "
           "%zu of %zu last-error checks failed\n",
           THREADS, calls, n_backends, mismatches, error_failures, error_checks);
    return mismatches == 0 && error_failures == 0 ? 0 : 1;
}
