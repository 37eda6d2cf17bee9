/* Prometheus text exposition format (version 0.0.4) writers. */
#ifndef DP_PROM_H
#define DP_PROM_H

#include "dp_buf.h"

#include <stdint.h>

#define DP_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Writes "# HELP" and "# TYPE" lines; type is "counter" or "gauge". */
dp_rc dp_prom_head(struct dp_buf *b, const char *name, const char *type, const char *help);

/* Writes one sample; labels is "" or 'k="v",k2="v2"' (values already escaped). */
dp_rc dp_prom_sample(struct dp_buf *b, const char *name, const char *labels, double value);

/* Escapes a label value (\\, \", \n) into out; cuts at size. */
void dp_prom_escape(char *out, size_t size, const char *value);

#endif
