/* Docker's multiplexed log stream: the input fed whole and fed in uneven pieces must give the
 * same lines and the same verdict, every line within DP_LOGFRAME_LINE_MAX. */
#include "fuzz.h"

#include "dp_logframe.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct tally {
    uint64_t hash;
    size_t lines;
};

static dp_rc on_line(void *ud, const char *stream, const char *line, size_t len)
{
    struct tally *t = ud;

    if (len > DP_LOGFRAME_LINE_MAX || memchr(line, '\n', len))
        abort();
    if (strcmp(stream, "stdout") != 0 && strcmp(stream, "stderr") != 0 &&
        strcmp(stream, "stdin") != 0)
        abort();
    t->hash = t->hash * 1099511628211ULL + (uint64_t)stream[3]; /* FNV-like, order-sensitive */
    for (size_t i = 0; i < len; i++)
        t->hash = (t->hash ^ (unsigned char)line[i]) * 1099511628211ULL;
    t->hash = t->hash * 1099511628211ULL + len;
    t->lines++;
    return DP_OK;
}

static dp_rc decode(const uint8_t *data, size_t size, bool pieces, struct tally *t)
{
    struct dp_logframe f;
    dp_rc rc = DP_OK;
    size_t pos = 0;

    dp_logframe_init(&f);
    while (rc == DP_OK && pos < size) {
        size_t n = pieces ? 1 + (pos * 5 + size) % 23 : size - pos;

        if (n > size - pos)
            n = size - pos;
        rc = dp_logframe_feed(&f, (const char *)data + pos, n, on_line, t);
        pos += n;
    }
    if (rc == DP_OK)
        rc = dp_logframe_flush(&f, on_line, t);
    dp_logframe_clear(&f);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tally whole = {14695981039346656037ULL, 0}, split = whole;
    dp_rc a = decode(data, size, false, &whole);
    dp_rc b = decode(data, size, true, &split);

    if (a != b || whole.hash != split.hash || whole.lines != split.lines)
        abort();
    return 0;
}
