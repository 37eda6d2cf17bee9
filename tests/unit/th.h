/* A very small unit test harness: checks count failures, main runs every test and exits
 * non-zero if any check failed. */
#ifndef TH_H
#define TH_H

#include <stdio.h>
#include <string.h>

static int th_failures;
static int th_checks;

#define TH_CHECK(cond)                                                                             \
    do {                                                                                           \
        th_checks++;                                                                               \
        if (!(cond)) {                                                                             \
            th_failures++;                                                                         \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

#define TH_EQ_INT(a, b)                                                                            \
    do {                                                                                           \
        long long th_a = (long long)(a), th_b = (long long)(b);                                    \
        th_checks++;                                                                               \
        if (th_a != th_b) {                                                                        \
            th_failures++;                                                                         \
            fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__, #a, th_a,    \
                    th_b);                                                                         \
        }                                                                                          \
    } while (0)

#define TH_EQ_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *th_a = (a), *th_b = (b);                                                       \
        th_checks++;                                                                               \
        if (!th_a || !th_b || strcmp(th_a, th_b) != 0) {                                           \
            th_failures++;                                                                         \
            fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a,      \
                    th_a ? th_a : "(null)", th_b ? th_b : "(null)");                               \
        }                                                                                          \
    } while (0)

#define TH_RUN(fn)                                                                                 \
    do {                                                                                           \
        int th_before = th_failures;                                                               \
        fn();                                                                                      \
        fprintf(stderr, "%s %s\n", th_failures == th_before ? "ok  " : "FAIL", #fn);               \
    } while (0)

#define TH_EXIT()                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "%d checks, %d failed\n", th_checks, th_failures);                         \
        return th_failures ? 1 : 0;                                                                \
    } while (0)

#endif
