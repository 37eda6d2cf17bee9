/* Agent to agent image copy without spooling: a thread runs GET /images/{ref}/export and writes
 * what arrives into a socket pair; the calling thread runs POST /images/load with the other end
 * as its chunked request body. Memory is bounded by the socket pair's buffer (COPY_SOCKBUF,
 * which the kernel doubles) plus curl's receive and upload buffers (AGENTC_CURL_BUF each).
 * Either side failing stops the other: the shared cancel flag, and a socket end that closes.
 * pr->tick and pr->emit run only on the calling thread. */
#include "dp_agentc_int.h"

#include "dp_image.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define COPY_SOCKBUF (64 * 1024) /* socket pair send buffer, bytes (the kernel doubles it) */
#define COPY_WAIT_MS 250         /* poll step while one side waits for the other */

enum { EXPORT_RUNNING, EXPORT_OK, EXPORT_FAILED };
enum { FIRST_NONE, FIRST_EXPORT, FIRST_LOAD, FIRST_CANCEL };

struct copy {
    const struct dp_agent_target *from;
    char path[DP_IMAGE_REF_MAX + 32];
    int fd[2];         /* [0] export writes, [1] load reads */
    atomic_int cancel; /* either side stops the other */
    atomic_int export_state;
    atomic_int first; /* who failed first: that error is the answer */
    struct dp_err export_err;
    struct agentc_xfer load;
};

/* Export side: push a chunk into the socket pair, waiting (bounded steps) while it is full. */
static dp_rc export_push(void *ud, const char *p, size_t n, struct dp_err *err)
{
    struct copy *c = ud;

    while (n) {
        ssize_t w = send(c->fd[0], p, n, MSG_NOSIGNAL | MSG_DONTWAIT);

        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (atomic_load(&c->cancel))
            return dp_err_setc(err, DP_ECANCELED, "canceled", "canceled");
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            struct pollfd pf = {.fd = c->fd[0], .events = POLLOUT};

            poll(&pf, 1, COPY_WAIT_MS);
            continue;
        }
        return dp_err_setc(err, DP_ECANCELED, "canceled", "the load side stopped");
    }
    return DP_OK;
}

static void *export_main(void *arg)
{
    struct copy *c = arg;
    struct agentc_req rq = {.method = "GET", .path = c->path, .stall = true};
    struct agentc_xfer x;
    dp_rc rc = agentc_begin(&x, c->from, &rq, AGENTC_RAW, NULL, &c->export_err);

    x.cancel = &c->cancel;
    x.on_data = export_push;
    x.data_ud = c;
    if (rc == DP_OK)
        rc = agentc_perform(&x);
    if (rc == DP_OK && (x.status < 200 || x.status > 299))
        rc = agentc_status_err(&x);
    agentc_end(&x);
    if (rc) {
        int none = FIRST_NONE;

        atomic_compare_exchange_strong(&c->first, &none, FIRST_EXPORT);
        atomic_store(&c->cancel, 1);
    }
    atomic_store(&c->export_state, rc ? EXPORT_FAILED : EXPORT_OK);
    shutdown(c->fd[0], SHUT_WR); /* the load side reads the end, or sees the failure */
    return NULL;
}

/* Load side: the request body is what the export pushed. */
static size_t load_pull(struct agentc_xfer *x, char *buf, size_t n)
{
    struct copy *c = x->read_ud;

    for (;;) {
        ssize_t r;

        if (agentc_canceled(x))
            return CURL_READFUNC_ABORT;
        r = recv(c->fd[1], buf, n, MSG_DONTWAIT);
        if (r > 0)
            return (size_t)r;
        if (r == 0 && atomic_load(&c->export_state) == EXPORT_OK)
            return 0;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            struct pollfd pf = {.fd = c->fd[1], .events = POLLIN};

            poll(&pf, 1, COPY_WAIT_MS);
            continue;
        }
        x->stop_rc = dp_err_setc(x->err, DP_ECANCELED, "canceled", "the export side stopped");
        return CURL_READFUNC_ABORT;
    }
}

/* Waits until the export has its first byte (or has failed), ticking; false to stop. */
static bool wait_export(struct copy *c, const struct dp_progress *pr)
{
    struct pollfd pf = {.fd = c->fd[1], .events = POLLIN};
    char b;

    for (;;) {
        if (pr && pr->tick && pr->tick(pr->ud)) {
            int none = FIRST_NONE;

            atomic_compare_exchange_strong(&c->first, &none, FIRST_CANCEL);
            atomic_store(&c->cancel, 1);
            return false;
        }
        if (poll(&pf, 1, COPY_WAIT_MS) > 0)
            return recv(c->fd[1], &b, 1, MSG_PEEK | MSG_DONTWAIT) == 1;
    }
}

static dp_rc run_load(struct copy *c, const struct dp_agent_target *to,
                      const struct dp_progress *pr, char *image_id, struct dp_err *err)
{
    struct agentc_req rq = {.method = "POST",
                            .path = "/images/load",
                            .content_type = "application/x-tar",
                            .stall = true};
    json_t *done = NULL;
    const char *id;
    dp_rc rc = agentc_begin(&c->load, to, &rq, AGENTC_NDJSON, pr, err);

    c->load.cancel = &c->cancel;
    c->load.read = load_pull;
    c->load.read_ud = c;
    if (rc == DP_OK)
        rc = agentc_stream_result(&c->load, agentc_perform(&c->load), &done);
    id = json_string_value(json_object_get(done, "image_id"));
    if (rc == DP_OK && (!id || strlen(id) >= DP_IMAGE_ID_MAX))
        rc = dp_err_setc(err, DP_EUPSTREAM, "agent_bad_answer",
                         "agent %s loaded the image but named no image id", c->load.where);
    if (rc == DP_OK)
        snprintf(image_id, DP_IMAGE_ID_MAX, "%s", id);
    if (rc) {
        int none = FIRST_NONE;

        atomic_compare_exchange_strong(&c->first, &none,
                                       c->load.tick_canceled ? FIRST_CANCEL : FIRST_LOAD);
        atomic_store(&c->cancel, 1);
    }
    agentc_end(&c->load);
    json_decref(done);
    return rc;
}

static dp_rc copy_setup(struct copy *c, const char *ref, struct dp_err *err)
{
    int sz = COPY_SOCKBUF;
    size_t n = ref ? strlen(ref) : 0;

    if (n == 0 || n > DP_IMAGE_REF_MAX ||
        strspn(ref, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-:/@") != n)
        return dp_err_setc(err, DP_EINVAL, "invalid_image", "image reference '%.80s' is not valid",
                           ref ? ref : "");
    snprintf(c->path, sizeof(c->path), "/images/%s/export", ref);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, c->fd) != 0)
        return dp_err_set(err, DP_EIO, "cannot make a socket pair: %s", strerror(errno));
    setsockopt(c->fd[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
    setsockopt(c->fd[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
    return DP_OK;
}

dp_rc dp_agent_copy_image(const struct dp_agent_target *from, const struct dp_agent_target *to,
                          const char *ref, char *image_id, const struct dp_progress *pr,
                          struct dp_err *err)
{
    struct copy c = {.from = from, .fd = {-1, -1}};
    pthread_t th;
    dp_rc rc;

    image_id[0] = '\0';
    rc = copy_setup(&c, ref, err);
    if (rc)
        return rc;
    if (pthread_create(&th, NULL, export_main, &c) != 0) {
        close(c.fd[0]);
        close(c.fd[1]);
        return dp_err_set(err, DP_ENOMEM, "cannot start the export thread");
    }
    /* The target is asked only once the source has started sending. */
    if (wait_export(&c, pr))
        rc = run_load(&c, to, pr, image_id, err);
    else if (atomic_load(&c.first) != FIRST_CANCEL)
        atomic_store(&c.cancel, 1); /* the export ended (failed, or sent nothing) */
    shutdown(c.fd[1], SHUT_RDWR);   /* an export still sending sees the end */
    pthread_join(th, NULL);
    close(c.fd[0]);
    close(c.fd[1]);
    if (rc == DP_OK && image_id[0])
        return DP_OK;
    switch (atomic_load(&c.first)) {
    case FIRST_EXPORT:
        if (err)
            *err = c.export_err;
        return c.export_err.rc;
    case FIRST_CANCEL:
        return dp_err_setc(err, DP_ECANCELED, "canceled", "image copy canceled");
    case FIRST_LOAD:
        return rc;
    default:
        return dp_err_setc(err, DP_EUPSTREAM, "agent_bad_answer", "agent %.100s exported nothing",
                           from->url);
    }
}
