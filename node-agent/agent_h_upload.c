/* POST /upload?path=/app/NAME/[&clean=1]: a tar (or tar.gz) body unpacked below the data root
 * as it arrives; dp_untar does the work and the checking. */
#include "agent.h"

#include "dp_clock.h"
#include "dp_path.h"
#include "dp_untar.h"

#include <limits.h>
#include <string.h>

struct upload_src {
    struct dp_req *rq;
    struct agent *ag;
    long long left; /* Content-Length bytes still due; -1 for a chunked body */
    bool started;
};

/* dp_untar's read. It calls only once the target checked out, so the first call is where
 * the client gets its 100 Continue. A body shorter than its Content-Length is a client that
 * went away, not the end of the tar. */
static long upload_read(void *ud, void *buf, size_t size)
{
    struct upload_src *s = ud;
    int n;

    if (!s->started) {
        dp_httpd_continue(s->rq);
        s->started = true;
    }
    if (atomic_load(&s->ag->stopping))
        return -1;
    if (s->left == 0)
        return 0;
    if (s->left > 0 && (unsigned long long)s->left < size)
        size = (size_t)s->left;
    n = mg_read(s->rq->conn, buf, size > INT_MAX ? INT_MAX : size);
    if (n > 0 && s->left > 0)
        s->left -= n;
    if (n == 0 && s->left > 0)
        return -1;
    return n;
}

/* After a refusal the client may still be sending: read and drop it (bounded) so the client
 * reads the answer instead of a reset (curl stops sending once it sees the answer). Not when
 * the client waits for a 100 Continue it never got, or has gone. */
static void upload_linger(struct upload_src *s, dp_rc rc)
{
    char buf[8192];
    unsigned long long dropped = 0;

    if (rc == DP_ECANCELED || (!s->started && mg_get_header(s->rq->conn, "Expect")))
        return;
    while (dropped < DP_UPLOAD_LINGER_MAX) {
        long n = upload_read(s, buf, sizeof(buf));

        if (n <= 0)
            break;
        dropped += (unsigned long long)n;
    }
}

static dp_rc upload_path(const struct dp_req *rq, char *out, size_t size, struct dp_err *err)
{
    const char *qs = rq->ri->query_string;
    char raw[DP_PATH_MAX + 2];
    int n = qs ? mg_get_var(qs, strlen(qs), "path", raw, sizeof(raw)) : -1;

    if (n == -1)
        return dp_err_setc(err, DP_EINVAL, "invalid_path",
                           "query parameter 'path' is required, e.g. /upload?path=/app/web");
    if (n < 0)
        return dp_err_setc(err, DP_EINVAL, "invalid_path", "path is longer than %d bytes",
                           DP_PATH_MAX);
    if ((size_t)n != strlen(raw))
        return dp_err_setc(err, DP_EINVAL, "invalid_path", "path contains a NUL byte");
    return dp_path_normalize(out, size, raw, err);
}

static int upload_answer(struct dp_req *rq, const char *path, const struct dp_untar_result *res)
{
    json_t *o = json_pack("{s:s, s:I, s:I}", "path", path, "files", (json_int_t)res->files, "bytes",
                          (json_int_t)res->bytes);
    int st = o ? dp_httpd_send_json(rq, 200, o)
               : dp_httpd_send_error(rq, 500, "internal", "out of memory");

    json_decref(o);
    return st;
}

int agent_h_upload(struct dp_req *rq)
{
    struct agent *ag = rq->app;
    struct upload_src src = {.rq = rq, .ag = ag, .left = rq->ri->content_length};
    char path[DP_PATH_MAX + 1] = "";
    struct dp_untar_opts o = {.data_root = ag->conf.data_root,
                              .path = path,
                              .clean = dp_httpd_query_flag(rq, "clean"),
                              .read = upload_read,
                              .read_ud = &src};
    struct dp_untar_result res = {0};
    struct dp_err err = {0};
    int64_t t0 = dp_mono_ms();
    int st;
    dp_rc rc = upload_path(rq, path, sizeof(path), &err);

    if (!rc && rq->ri->content_length > 0 &&
        (unsigned long long)rq->ri->content_length > DP_UPLOAD_MAX_BODY)
        rc = dp_err_setc(&err, DP_ETOOBIG, "upload_too_large",
                         "the upload of %lld bytes is over the limit of %llu bytes",
                         rq->ri->content_length, DP_UPLOAD_MAX_BODY);
    if (!rc)
        rc = dp_untar(&res, &o, &err);
    atomic_fetch_add(&ag->metrics.upload_bytes, res.received);
    agent_count_op(ag, AGENT_OP_UPLOAD, rc == DP_OK);
    if (rc || !res.drained)
        dp_httpd_close_after(rq); /* part of the body is still unread */
    if (rc) {
        dp_log(DP_LOG_WARN, &rq->log, "upload refused path=%s received=%llu: %s",
               path[0] ? path : "-", res.received, err.msg);
        st = dp_httpd_send_err(rq, &err);
        upload_linger(&src, rc);
        return st;
    }
    dp_log(DP_LOG_INFO, &rq->log,
           "upload path=%s clean=%d files=%llu bytes=%llu received=%llu "
           "ms=%lld",
           path, o.clean, res.files, res.bytes, res.received, (long long)(dp_mono_ms() - t0));
    return upload_answer(rq, path, &res);
}
