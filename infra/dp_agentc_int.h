/* Inside the agent client (dp_agentc*.c only): one transfer to one agent, its answer sinks,
 * its request bodies, and how transport failures and error answers become dp_err. */
#ifndef DP_AGENTC_INT_H
#define DP_AGENTC_INT_H

#include "dp_agentc.h"
#include "dp_buf.h"

#include <curl/curl.h>
#include <stdatomic.h>

#define AGENTC_REPLY_MAX   (8UL * 1024 * 1024) /* a whole JSON answer, bytes */
#define AGENTC_ERRBODY_MAX (64UL * 1024)       /* an error answer (non-2xx), bytes */
#define AGENTC_LINE_MAX    (1UL * 1024 * 1024) /* one NDJSON event, bytes */
#define AGENTC_EVENT_DEPTH 16                  /* nesting of one event */
#define AGENTC_CURL_BUF    (64L * 1024)        /* curl's receive and upload buffers, bytes */
#define AGENTC_PING_MS     2000                /* a whole /ping */
#define AGENTC_CALL_MS     120000              /* a whole JSON call */
#define AGENTC_POLL_MS     500                 /* wait_ready's pace */
#define AGENTC_URL_MAX     4096                /* target url + path, bytes */

enum agentc_sink {
    AGENTC_WHOLE,  /* keep the answer (JSON calls) */
    AGENTC_NDJSON, /* split into events */
    AGENTC_RAW,    /* hand each 2xx chunk to on_data (exports) */
};

/* How to send one request. */
struct agentc_req {
    const char *method;
    const char *path;         /* below the target's url, with query */
    const char *json;         /* JSON body text, or NULL */
    const char *content_type; /* for a streamed body (read), or NULL */
    long timeout_ms;          /* whole transfer; 0 for none */
    bool stall;               /* fail after stall_ms without a byte either way */
};

/* One transfer and everything its callbacks touch. */
struct agentc_xfer {
    const struct dp_agent_target *t;
    char where[128]; /* "host:port" for messages */
    CURL *curl;
    struct curl_slist *hdrs; /* holds the key: wiped before it is freed */
    char errbuf[CURL_ERROR_SIZE];
    long status;
    enum agentc_sink sink;
    struct dp_buf body; /* AGENTC_WHOLE answer, or an error answer */
    bool body_full;     /* an error answer was cut at AGENTC_ERRBODY_MAX */
    struct dp_buf line; /* AGENTC_NDJSON: the partial line */
    json_t *last;       /* AGENTC_NDJSON: the done or error event */
    dp_rc (*on_data)(void *ud, const char *p, size_t n, struct dp_err *err); /* AGENTC_RAW */
    void *data_ud;
    /* Request body through curl's read callback: fill up to n bytes; 0 at the end;
     * CURL_READFUNC_ABORT after setting stop_rc. */
    size_t (*read)(struct agentc_xfer *x, char *buf, size_t n);
    void *read_ud;
    int body_fd;          /* for agentc_read_fd */
    curl_off_t body_size; /* -1: chunked */
    const struct agentc_req *rq;
    const struct dp_progress *pr; /* tick and emit; NULL for none */
    atomic_int *cancel;           /* shared stop flag (copy-image), or NULL */
    bool tick_canceled;           /* pr->tick asked to stop */
    long stall_ms;
    int64_t last_ms;       /* last byte seen either way, monotonic */
    curl_off_t seen_bytes; /* dlnow + ulnow at the last progress call */
    dp_rc stop_rc;         /* why a callback stopped curl (err is set) */
    struct dp_err *err;
};

/* Checks t, makes the curl handle and headers for rq. x is ready for agentc_perform; call
 * agentc_end in every case. */
dp_rc agentc_begin(struct agentc_xfer *x, const struct dp_agent_target *t,
                   const struct agentc_req *rq, enum agentc_sink sink, const struct dp_progress *pr,
                   struct dp_err *err);

/* Runs the transfer; a transport failure or a callback's stop becomes the error. The HTTP
 * status is in x->status either way. */
dp_rc agentc_perform(struct agentc_xfer *x);

/* A non-2xx answer as an error: 401 is agent_auth_failed, others carry the agent's
 * {"error","detail"} with an rc fitting the status. */
dp_rc agentc_status_err(struct agentc_xfer *x);

/* True (and stop_rc set) when the shared flag or pr->tick says stop. */
bool agentc_canceled(struct agentc_xfer *x);

/* Sends the file fd from its offset as the request body: Content-Length for a regular file,
 * chunked for a pipe. */
void agentc_body_fd(struct agentc_xfer *x, int fd);

/* Splits answer bytes into NDJSON events: heartbeats dropped, log and progress to pr->emit,
 * the last (done or error) kept in x->last. */
dp_rc agentc_feed_lines(struct agentc_xfer *x, const char *p, size_t n);

/* Frees everything; wipes the key header. */
void agentc_end(struct agentc_xfer *x);

/* The stream's outcome once the transfer ended with rc: the done event into *done, the
 * agent's error event, an error answer, or agent_stream_broken. */
dp_rc agentc_stream_result(struct agentc_xfer *x, dp_rc rc, json_t **done);

/* Maps an agent error code (an event's "error") to the rc it stands for. */
dp_rc agentc_code_rc(const char *code);

#endif
