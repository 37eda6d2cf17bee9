/* multipart/form-data (RFC 7578) read as a stream: text fields are collected into a JSON
 * object, the one file part is written to a temp file as it arrives. Memory stays bounded
 * whatever the body: one read block, one part's headers and the text fields (each capped);
 * the file never is in memory. The boundary is searched across read edges, so any split of
 * the body gives the same result.
 *
 * Accepted: boundary quoted or not; a preamble before the first boundary and an epilogue after
 * the last (both ignored); transport padding (spaces, tabs) after a boundary; parts without
 * Content-Type; headers other than Content-Disposition ignored. Line ends are CRLF, as the RFC
 * and every client write them.
 *
 * The file part is the part named by file_field, or, without one, the part that carries a
 * filename; a second one is refused (nothing is dropped silently). Its filename is kept,
 * sanitised: the last path segment, at most DP_MULTIPART_FILENAME_MAX bytes of
 * [A-Za-z0-9._+-], anything else as '_'. A text field given twice becomes an array of its
 * values (curl -F server_ips=a -F server_ips=b). */
#ifndef DP_MULTIPART_H
#define DP_MULTIPART_H

#include "dp_err.h"

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#define DP_MULTIPART_FIELDS_MAX   64                          /* text field values in one form */
#define DP_MULTIPART_NAME_MAX     64                          /* a field name, bytes */
#define DP_MULTIPART_VALUE_MAX    (1UL * 1024 * 1024)         /* one text value, bytes */
#define DP_MULTIPART_TEXT_MAX     (8UL * 1024 * 1024)         /* all text values together, bytes */
#define DP_MULTIPART_HEADERS_MAX  8192                        /* one part's header block, bytes */
#define DP_MULTIPART_BOUNDARY_MAX 70                          /* RFC 2046 */
#define DP_MULTIPART_FILENAME_MAX 255                         /* a kept filename, bytes */
#define DP_MULTIPART_FILE_MAX     (1ULL * 1024 * 1024 * 1024) /* the file part, bytes */
#define DP_MULTIPART_BLOCK        (64UL * 1024)       /* bytes pulled from the client per read */
#define DP_MULTIPART_EPILOGUE_MAX (1UL * 1024 * 1024) /* bytes read past the last boundary */

/* Pulls up to size bytes of the body into buf: >0 bytes, 0 at the end of the body, <0 when
 * the stream broke (the client went away, or we are shutting down). Like dp_untar_read_fn. */
typedef long (*dp_multipart_read_fn)(void *ud, void *buf, size_t size);

struct dp_multipart_opts {
    const char *content_type;  /* the request's Content-Type header (NULL: refused) */
    dp_multipart_read_fn read; /* the body */
    void *read_ud;
    const char *file_field;      /* the file part's name, or NULL: the part with a filename */
    const char *spool_dir;       /* where the file goes (mkstemp, mode 0600) */
    unsigned long long max_file; /* the file part, bytes; 0: DP_MULTIPART_FILE_MAX */
};

struct dp_multipart_result {
    json_t *fields; /* {"name": "value" | ["value", ...]}; the caller's (clear frees it) */
    char file_path[PATH_MAX];                      /* "" when the form had no file */
    char file_field[DP_MULTIPART_NAME_MAX + 1];    /* the file part's field name */
    char file_name[DP_MULTIPART_FILENAME_MAX + 1]; /* sanitised; "" when none was sent */
    unsigned long long file_bytes;
    unsigned long long received; /* body bytes read, also on failure */
    bool drained;                /* the body was read to its end (the connection can stay) */
};

/* Reads the whole form. On success *out holds the fields and the spooled file (the caller's:
 * dp_multipart_result_clear removes the file). Errors: DP_EINVAL code "invalid_multipart"
 * (not multipart/form-data, no or bad boundary, a truncated body or part, bad part headers, a
 * second file, a field that is not UTF-8), DP_ETOOBIG "upload_too_large" (the file past
 * max_file) or "field_too_large" (a name, a value, the text together, too many fields),
 * DP_ECANCELED when the stream broke, DP_EIO for the disk. On failure nothing is left: no
 * file, no fields (out->received still says how much was read). */
dp_rc dp_multipart_read(struct dp_multipart_result *out, const struct dp_multipart_opts *o,
                        struct dp_err *err);

/* Removes the spooled file (if any), frees the fields and empties r. Safe twice. */
void dp_multipart_result_clear(struct dp_multipart_result *r);

/* Copies the boundary of a multipart/form-data Content-Type into out (unquoted). DP_EINVAL
 * "invalid_multipart" when the type is another or the boundary is missing, empty, longer
 * than DP_MULTIPART_BOUNDARY_MAX or has characters RFC 2046 does not allow. */
dp_rc dp_multipart_boundary(char *out, size_t size, const char *content_type, struct dp_err *err);

#endif
