/* The agent client's core: one curl easy handle per call, the key header built per request and
 * wiped, the pin as the trust for HTTPS, and every failure turned into one dp_err naming the
 * agent. JSON calls: dp_agentc_call.c; streams: dp_agentc_stream.c; image copies:
 * dp_agentc_copy.c. */
#include "dp_agentc_int.h"

#include "dp_clock.h"
#include "dp_json.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void dp_agent_target_init(struct dp_agent_target *t, const char *ip, const char *key,
                          const char *pin)
{
    bool tls = pin && *pin;
    bool v6 = ip && strchr(ip, ':');

    memset(t, 0, sizeof(*t));
    snprintf(t->url, sizeof(t->url), "%s://%s%s%s:%d", tls ? "https" : "http", v6 ? "[" : "",
             ip ? ip : "", v6 ? "]" : "", DP_AGENT_PORT);
    snprintf(t->key, sizeof(t->key), "%s", key ? key : "");
    snprintf(t->pin, sizeof(t->pin), "%s", tls ? pin : "");
    t->connect_ms = 5000;
    t->stall_ms = 45000;
}

/* ---- the target ---- */

static bool header_safe(const char *s, size_t size, size_t min)
{
    size_t n = strnlen(s, size);

    if (n == size || n < min)
        return false;
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return false;
    }
    return true;
}

static dp_rc target_check(const struct dp_agent_target *t, char *where, size_t wsize,
                          struct dp_err *err)
{
    const char *host = NULL;
    bool tls = strncmp(t->url, "https://", 8) == 0;

    where[0] = '\0';
    if (strnlen(t->url, sizeof(t->url)) == sizeof(t->url))
        return dp_err_setc(err, DP_EINVAL, "invalid_agent_target", "agent url is too long");
    if (tls)
        host = t->url + 8;
    else if (strncmp(t->url, "http://", 7) == 0)
        host = t->url + 7;
    if (!host || !*host || strchr(host, '@'))
        return dp_err_setc(err, DP_EINVAL, "invalid_agent_target",
                           "agent url '%.100s' is not http(s)://host:port", t->url);
    snprintf(where, wsize, "%.*s", (int)strcspn(host, "/?#"), host);
    if (tls && !t->pin[0])
        return dp_err_setc(err, DP_EINVAL, "invalid_agent_target",
                           "agent %s: https needs the agent's key pin (its certificate is "
                           "self-signed)",
                           where);
    if (!tls && t->pin[0])
        return dp_err_setc(err, DP_EINVAL, "invalid_agent_target",
                           "agent %s has a key pin but its url is not https://", where);
    if (t->pin[0] &&
        (strncmp(t->pin, "sha256//", 8) != 0 || !header_safe(t->pin, sizeof(t->pin), 9)))
        return dp_err_setc(err, DP_EINVAL, "invalid_agent_target",
                           "agent %s: the pin is not sha256//<base64>", where);
    if (!header_safe(t->key, sizeof(t->key), 1))
        return dp_err_setc(err, DP_EINVAL, "invalid_agent_target",
                           "agent %s: the agent key is empty or holds characters a header "
                           "cannot carry",
                           where);
    return DP_OK;
}

/* Request ids are sent only when they are plain tokens (no header injection). */
static bool req_id_ok(const char *id, size_t size)
{
    size_t n = strnlen(id, size);

    if (n == 0 || n == size)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == ':'))
            return false;
    }
    return true;
}

static void add_header(struct curl_slist **h, bool *ok, const char *line)
{
    struct curl_slist *n = *ok ? curl_slist_append(*h, line) : NULL;

    if (n)
        *h = n;
    else
        *ok = false;
}

static void wipe_headers(struct curl_slist *h)
{
    for (struct curl_slist *n = h; n; n = n->next)
        OPENSSL_cleanse(n->data, strlen(n->data));
    curl_slist_free_all(h);
}

/* The key header lives in a stack buffer wiped at once and in the list (wiped at the end). */
static struct curl_slist *make_headers(const struct dp_agent_target *t, const struct agentc_req *rq)
{
    char line[sizeof(t->key) + sizeof(t->req_id) + 32];
    struct curl_slist *h = NULL;
    bool ok = true;

    snprintf(line, sizeof(line), "X-API-Key: %s", t->key);
    add_header(&h, &ok, line);
    OPENSSL_cleanse(line, sizeof(line));
    if (req_id_ok(t->req_id, sizeof(t->req_id))) {
        snprintf(line, sizeof(line), "X-Request-Id: %s", t->req_id);
        add_header(&h, &ok, line);
    }
    if (rq->json) {
        add_header(&h, &ok, "Content-Type: application/json");
        add_header(&h, &ok, "Expect:");
    } else if (rq->content_type) {
        snprintf(line, sizeof(line), "Content-Type: %s", rq->content_type);
        add_header(&h, &ok, line);
    }
    if (!ok) {
        wipe_headers(h);
        return NULL;
    }
    return h;
}

/* ---- callbacks ---- */

bool agentc_canceled(struct agentc_xfer *x)
{
    if (x->stop_rc)
        return true;
    if (x->cancel && atomic_load(x->cancel)) {
        x->stop_rc = dp_err_setc(x->err, DP_ECANCELED, "canceled", "canceled");
        return true;
    }
    if (x->pr && x->pr->tick && x->pr->tick(x->pr->ud)) {
        x->tick_canceled = true;
        if (x->cancel)
            atomic_store(x->cancel, 1);
        x->stop_rc = dp_err_setc(x->err, DP_ECANCELED, "canceled",
                                 "canceled while agent %s was working", x->where);
        return true;
    }
    return false;
}

static dp_rc unresponsive(struct agentc_xfer *x)
{
    return dp_err_setc(x->err, DP_EUNAVAIL, "agent_unresponsive",
                       "agent %s sent nothing for %ld s, not even a heartbeat: it stopped "
                       "answering",
                       x->where, (x->stall_ms + 999) / 1000);
}

static size_t on_write(char *p, size_t size, size_t nmemb, void *ud)
{
    struct agentc_xfer *x = ud;
    size_t n = size * nmemb;

    x->last_ms = dp_mono_ms();
    if (!x->status)
        curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &x->status);
    if (x->status < 200 || x->status > 299 || x->sink == AGENTC_WHOLE) {
        if (dp_buf_append(&x->body, p, n) == DP_OK)
            return n;
        if (x->status >= 200 && x->status <= 299)
            x->stop_rc =
                dp_err_setc(x->err, DP_ETOOBIG, "agent_answer_too_large",
                            "agent %s answered more than %zu bytes", x->where, x->body.cap);
        else
            x->body_full = true; /* enough of an error answer to tell what it was */
        return 0;
    }
    if (agentc_canceled(x))
        return 0;
    if (x->sink == AGENTC_NDJSON)
        x->stop_rc = agentc_feed_lines(x, p, n);
    else
        x->stop_rc = x->on_data(x->data_ud, p, n, x->err);
    x->last_ms = dp_mono_ms(); /* time spent handing data on is not the agent's silence */
    return x->stop_rc ? 0 : n;
}

static size_t on_read(char *buf, size_t size, size_t nmemb, void *ud)
{
    struct agentc_xfer *x = ud;
    size_t n = x->read(x, buf, size * nmemb);

    if (n > 0 && n != CURL_READFUNC_ABORT)
        x->last_ms = dp_mono_ms();
    return n;
}

/* About once a second and more often while bytes flow: cancel, tick, and silence. */
static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    struct agentc_xfer *x = ud;
    int64_t now = dp_mono_ms();

    (void)dt, (void)ut;
    if (agentc_canceled(x))
        return 1;
    if (dn + un != x->seen_bytes) {
        x->seen_bytes = dn + un;
        x->last_ms = now;
    } else if (x->rq->stall && now - x->last_ms >= x->stall_ms) {
        x->stop_rc = unresponsive(x);
        return 1;
    }
    return 0;
}

static size_t read_fd(struct agentc_xfer *x, char *buf, size_t n)
{
    for (;;) {
        ssize_t r = read(x->body_fd, buf, n);

        if (r >= 0)
            return (size_t)r;
        if (errno != EINTR) {
            x->stop_rc =
                dp_err_setc(x->err, DP_EIO, "io_error", "reading the body for agent %s failed: %s",
                            x->where, strerror(errno));
            return CURL_READFUNC_ABORT;
        }
    }
}

void agentc_body_fd(struct agentc_xfer *x, int fd)
{
    struct stat st;
    off_t pos = lseek(fd, 0, SEEK_CUR);

    x->read = read_fd;
    x->body_fd = fd;
    x->body_size = -1; /* a pipe: chunked */
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && pos >= 0 && pos <= st.st_size)
        x->body_size = (curl_off_t)(st.st_size - pos);
}

/* ---- one transfer ---- */

static void set_transport(struct agentc_xfer *x, const struct dp_agent_target *t, const char *url)
{
    CURL *c = x->curl;
    bool tls = t->pin[0] != '\0';

    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, tls ? "https" : "http");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_PROXY, ""); /* never through an environment proxy */
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "deploy-infra/" DP_VERSION);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, t->connect_ms > 0 ? t->connect_ms : 5000L);
    curl_easy_setopt(c, CURLOPT_BUFFERSIZE, AGENTC_CURL_BUF);
    curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, AGENTC_CURL_BUF);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, x->errbuf);
    if (tls) {
        /* Self-signed, made before the server's address was known: the pin is the trust. */
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
        curl_easy_setopt(c, CURLOPT_PINNEDPUBLICKEY, t->pin);
        curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
}

static void set_limits(struct agentc_xfer *x, const struct agentc_req *rq)
{
    if (rq->timeout_ms > 0)
        curl_easy_setopt(x->curl, CURLOPT_TIMEOUT_MS, rq->timeout_ms);
    if (rq->stall) {
        /* Agents heartbeat every 5 s: a whole stall_ms without one byte means dead. */
        curl_easy_setopt(x->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(x->curl, CURLOPT_LOW_SPEED_TIME,
                         x->stall_ms >= 2000 ? x->stall_ms / 1000 : 1L);
    }
}

dp_rc agentc_begin(struct agentc_xfer *x, const struct dp_agent_target *t,
                   const struct agentc_req *rq, enum agentc_sink sink, const struct dp_progress *pr,
                   struct dp_err *err)
{
    char url[AGENTC_URL_MAX];
    dp_rc rc;

    memset(x, 0, sizeof(*x));
    x->t = t;
    x->rq = rq;
    x->sink = sink;
    x->pr = pr;
    x->err = err;
    x->body_fd = -1;
    x->body_size = -1;
    x->stall_ms = t->stall_ms > 0 ? t->stall_ms : 45000;
    dp_buf_init(&x->body, sink == AGENTC_WHOLE ? AGENTC_REPLY_MAX : AGENTC_ERRBODY_MAX);
    dp_buf_init(&x->line, AGENTC_LINE_MAX);
    rc = target_check(t, x->where, sizeof(x->where), err);
    if (rc)
        return rc;
    if ((size_t)snprintf(url, sizeof(url), "%s%s", t->url, rq->path) >= sizeof(url))
        return dp_err_setc(err, DP_ETOOBIG, "too_large", "agent %s: request path too long",
                           x->where);
    x->curl = curl_easy_init();
    x->hdrs = x->curl ? make_headers(t, rq) : NULL;
    if (!x->hdrs)
        return dp_err_set(err, DP_ENOMEM, "out of memory starting a request to agent %s", x->where);
    set_transport(x, t, url);
    set_limits(x, rq);
    curl_easy_setopt(x->curl, CURLOPT_HTTPHEADER, x->hdrs);
    return DP_OK;
}

static void set_body(struct agentc_xfer *x)
{
    const struct agentc_req *rq = x->rq;
    CURL *c = x->curl;

    if (rq->json) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->json);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(rq->json));
    } else if (x->read) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, x);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, x->body_size);
    } else if (strcmp(rq->method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    } else {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }
    if (strcmp(rq->method, "GET") != 0 && strcmp(rq->method, "POST") != 0)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
}

static dp_rc timeout_err(struct agentc_xfer *x)
{
    curl_off_t connected = 0;

    curl_easy_getinfo(x->curl, CURLINFO_CONNECT_TIME_T, &connected);
    if (connected == 0)
        return dp_err_setc(x->err, DP_EUNAVAIL, "agent_unreachable",
                           "agent %s did not accept a connection within %ld ms", x->where,
                           x->t->connect_ms > 0 ? x->t->connect_ms : 5000L);
    if (x->rq->stall)
        return unresponsive(x);
    return dp_err_setc(x->err, DP_EUNAVAIL, "agent_unresponsive",
                       "agent %s did not answer within %ld ms", x->where, x->rq->timeout_ms);
}

static dp_rc transport_err(struct agentc_xfer *x, CURLcode cc)
{
    const char *why = x->errbuf[0] ? x->errbuf : curl_easy_strerror(cc);

    switch (cc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
        return dp_err_setc(x->err, DP_EUNAVAIL, "agent_unreachable", "agent %s is unreachable: %s",
                           x->where, why);
    case CURLE_OPERATION_TIMEDOUT:
        return timeout_err(x);
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        return dp_err_setc(x->err, DP_EDENIED, "agent_pin_mismatch",
                           "agent %s presented a TLS key that does not match its pin: not the "
                           "server that was provisioned, or its key was replaced",
                           x->where);
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
        return dp_err_setc(x->err, DP_EUNAVAIL, "agent_tls_failed", "TLS with agent %s failed: %s",
                           x->where, why);
    case CURLE_ABORTED_BY_CALLBACK:
        return dp_err_setc(x->err, DP_ECANCELED, "canceled", "canceled");
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        return dp_err_setc(x->err, DP_EUNAVAIL,
                           x->sink == AGENTC_NDJSON ? "agent_stream_broken"
                                                    : "agent_connection_lost",
                           "agent %s broke the connection: %s", x->where, why);
    default:
        return dp_err_setc(x->err, DP_EUPSTREAM, "agent_error", "talking to agent %s failed: %s",
                           x->where, why);
    }
}

dp_rc agentc_perform(struct agentc_xfer *x)
{
    CURLcode cc;

    set_body(x);
    x->last_ms = dp_mono_ms();
    cc = curl_easy_perform(x->curl);
    if (!x->status)
        curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &x->status);
    if (x->stop_rc)
        return x->stop_rc;
    if (cc == CURLE_OK || (x->status >= 300 && x->body.len))
        return DP_OK; /* an error answer: agentc_status_err tells it */
    return transport_err(x, cc);
}

void agentc_end(struct agentc_xfer *x)
{
    if (x->curl)
        curl_easy_cleanup(x->curl);
    x->curl = NULL;
    if (x->hdrs)
        wipe_headers(x->hdrs);
    x->hdrs = NULL;
    dp_buf_clear(&x->body);
    dp_buf_clear(&x->line);
    json_decref(x->last);
    x->last = NULL;
}

/* ---- error answers ---- */

static dp_rc status_rc(long status)
{
    switch (status) {
    case 401:
    case 403:
        return DP_EDENIED;
    case 404:
        return DP_ENOTFOUND;
    case 409:
        return DP_ECONFLICT;
    case 413:
        return DP_ETOOBIG;
    case 429:
    case 503:
        return DP_EUNAVAIL;
    case 504:
        return DP_ETIMEOUT;
    default:
        return status >= 400 && status < 500 ? DP_EINVAL : DP_EUPSTREAM;
    }
}

static bool code_ok(const char *code)
{
    size_t n = code ? strlen(code) : 0;

    if (n == 0 || n >= DP_ERR_CODE_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!((code[i] >= 'a' && code[i] <= 'z') || (code[i] >= '0' && code[i] <= '9') ||
              code[i] == '_'))
            return false;
    }
    return true;
}

/* The agent's detail, one line, short enough for a dp_err. */
static void clean_detail(char *out, size_t size, const char *detail)
{
    snprintf(out, size, "%s", detail ? detail : "");
    for (char *p = out; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    }
}

dp_rc agentc_code_rc(const char *code)
{
    size_t n = code ? strlen(code) : 0;

    if (!n)
        return DP_EUPSTREAM;
    if (strcmp(code, "agent_stopping") == 0)
        return DP_EUNAVAIL;
    if (n > 10 && strcmp(code + n - 10, "_not_found") == 0)
        return DP_ENOTFOUND;
    for (dp_rc rc = DP_EINVAL; rc <= DP_ETIMEOUT; rc++) {
        if (strcmp(code, dp_rc_code(rc)) == 0)
            return rc;
    }
    return DP_EUPSTREAM; /* the agent's own memory, disk or cancel are upstream to us */
}

dp_rc agentc_status_err(struct agentc_xfer *x)
{
    json_t *j = NULL;
    const char *code = NULL, *detail = NULL;
    char msg[DP_ERR_MSG_MAX - 80];
    dp_rc rc;

    if (x->body.len && !x->body_full &&
        dp_json_parse_object(&j, x->body.data, x->body.len, AGENTC_EVENT_DEPTH, NULL) == DP_OK) {
        code = json_string_value(json_object_get(j, "error"));
        detail = json_string_value(json_object_get(j, "detail"));
    }
    clean_detail(msg, sizeof(msg), detail);
    if (x->status == 401)
        rc = dp_err_setc(x->err, DP_EDENIED, "agent_auth_failed",
                         "agent %s refused the agent key%s%s", x->where, msg[0] ? ": " : "", msg);
    else if (msg[0])
        rc = dp_err_setc(x->err, status_rc(x->status), code_ok(code) ? code : "agent_error", "%s",
                         msg);
    else
        rc = dp_err_setc(x->err, status_rc(x->status), code_ok(code) ? code : "agent_error",
                         "agent %s answered %ld", x->where, x->status);
    json_decref(j);
    return rc;
}
