/* POST /build, POST /pull, GET /images/{ref}/export, POST /images/load. */
#include "agent_stream.h"

#include "dp_clock.h"

#include <stdio.h>
#include <string.h>

static struct dp_image_place place(struct agent *ag)
{
    struct dp_image_place pl = {&ag->docker, ag->conf.data_root, ag->conf.namespace_};

    return pl;
}

/* build and pull: read JSON, run the operation as a stream, end with the image id. */
static int image_stream(struct dp_req *rq, enum agent_op op,
                        dp_rc (*run)(char *, const struct dp_image_place *, const json_t *,
                                     const struct dp_progress *, struct dp_err *))
{
    struct agent *ag = rq->app;
    struct dp_image_place pl = place(ag);
    struct agent_stream s;
    struct dp_err err = {0};
    char id[DP_IMAGE_ID_MAX];
    int64_t t0 = dp_mono_ms();
    json_t *req = NULL;
    dp_rc rc;

    if (dp_httpd_read_json(rq, &req, &err))
        return dp_httpd_send_err(rq, &err);
    agent_stream_init(&s, rq);
    rc = run(id, &pl, req, &s.progress, &err);
    agent_stream_finish(&s, op, rc,
                        rc ? NULL
                           : json_pack("{s:s, s:I}", "image_id", id, "duration_ms",
                                       (json_int_t)(dp_mono_ms() - t0)),
                        &err);
    json_decref(req);
    return rq->status;
}

int agent_h_build(struct dp_req *rq)
{
    return image_stream(rq, AGENT_OP_BUILD, dp_image_build);
}

int agent_h_pull(struct dp_req *rq)
{
    return image_stream(rq, AGENT_OP_PULL, dp_image_pull);
}

/* Export: a chunked `docker save` tar. A failure after the first byte can only be told by
 * ending the connection without the final chunk, which clients report as a short transfer. */
struct export_out {
    struct dp_req *rq;
    struct agent *ag;
    bool started;
};

static dp_rc export_data(void *ud, const char *p, size_t n)
{
    struct export_out *o = ud;
    char head[32];
    int hl;

    if (!o->started) {
        char hdr[256];
        int m = snprintf(hdr, sizeof(hdr),
                         "HTTP/1.1 200 OK\r\nContent-Type: application/x-tar\r\n"
                         "Transfer-Encoding: chunked\r\nX-Request-Id: %s\r\n\r\n",
                         o->rq->log.req_id);

        o->started = true;
        o->rq->status = 200;
        if (mg_write(o->rq->conn, hdr, (size_t)m) <= 0)
            return DP_ECANCELED;
    }
    hl = snprintf(head, sizeof(head), "%zx\r\n", n);
    if (mg_write(o->rq->conn, head, (size_t)hl) <= 0 || mg_write(o->rq->conn, p, n) <= 0 ||
        mg_write(o->rq->conn, "\r\n", 2) <= 0)
        return DP_ECANCELED;
    return DP_OK;
}

static int export_tick(void *ud)
{
    struct export_out *o = ud;

    return atomic_load(&o->ag->stopping);
}

int agent_h_export(struct dp_req *rq)
{
    struct agent *ag = rq->app;
    struct export_out o = {rq, ag, false};
    struct dp_err err = {0};
    dp_rc rc = dp_image_export(&ag->docker, rq->params[0], export_data, export_tick, &o, &err);

    agent_count_op(ag, AGENT_OP_EXPORT, rc == DP_OK);
    if (rc == DP_OK)
        mg_write(rq->conn, "0\r\n\r\n", 5);
    else if (!o.started)
        return dp_httpd_send_err(rq, &err);
    else
        dp_httpd_close_after(rq); /* no final chunk: the client sees the transfer broke */
    if (rc)
        dp_log(DP_LOG_WARN, &rq->log, "export of %s failed: %s", rq->params[0], err.msg);
    return rq->status;
}

/* Load: the request body goes to Docker as it arrives. */
struct load_in {
    struct dp_req *rq;
    unsigned long long bytes;
};

static size_t load_read(void *ud, char *buf, size_t n)
{
    struct load_in *in = ud;
    int r = mg_read(in->rq->conn, buf, n);

    if (r < 0)
        return (size_t)-1;
    in->bytes += (unsigned long long)r;
    return (size_t)r;
}

int agent_h_load(struct dp_req *rq)
{
    struct agent *ag = rq->app;
    struct agent_stream s;
    struct load_in in = {rq, 0};
    struct dp_err err = {0};
    char id[DP_IMAGE_ID_MAX];
    json_t *loaded = NULL;
    dp_rc rc;

    dp_httpd_continue(rq);
    agent_stream_init(&s, rq);
    rc = dp_image_load(id, &loaded, &ag->docker, load_read, &in, &s.progress, &err);
    agent_stream_finish(&s, AGENT_OP_LOAD, rc,
                        rc ? NULL
                           : json_pack("{s:s, s:o, s:I}", "image_id", id, "images", loaded, "bytes",
                                       (json_int_t)in.bytes),
                        &err);
    if (rc)
        dp_httpd_close_after(rq); /* the rest of the body was not read */
    return rq->status;
}
