#include "dp_prom.h"

#include <math.h>

dp_rc dp_prom_head(struct dp_buf *b, const char *name, const char *type, const char *help)
{
    return dp_buf_appendf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

dp_rc dp_prom_sample(struct dp_buf *b, const char *name, const char *labels, double value)
{
    if (value == floor(value) && fabs(value) < 9e15)
        return dp_buf_appendf(b, "%s%s%s%s %.0f\n", name, *labels ? "{" : "", labels,
                              *labels ? "}" : "", value);
    return dp_buf_appendf(b, "%s%s%s%s %.6g\n", name, *labels ? "{" : "", labels,
                          *labels ? "}" : "", value);
}

void dp_prom_escape(char *out, size_t size, const char *value)
{
    size_t o = 0;

    for (; *value && o + 3 < size; value++) {
        if (*value == '\\' || *value == '"') {
            out[o++] = '\\';
            out[o++] = *value;
        } else if (*value == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else {
            out[o++] = *value;
        }
    }
    out[o] = '\0';
}
