#include "dosim_fetch.h"

#include "dosim_limits.h"

#include "dp_stage.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

dp_rc dosim_fetch_url_ok(const char *url, struct dp_err *err)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    struct in_addr a;
    dp_rc rc = DP_OK;

    if (!u)
        return dp_err_set(err, DP_ENOMEM, "out of memory");
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
        rc = dp_err_set(err, DP_EINVAL, "not a URL");
    else if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)
        rc = dp_err_set(err, DP_EINVAL, "only http and https downloads are simulated");
    else if (inet_pton(AF_INET, host, &a) != 1 || (ntohl(a.s_addr) >> 24) != 127)
        rc = dp_err_set(err, DP_EINVAL, "downloads only reach loopback addresses (127.0.0.0/8)");
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return rc;
}

struct sink {
    int fd;
    unsigned long long bytes;
    bool too_big, write_failed;
};

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    struct sink *s = ud;
    size_t len = size * n, done = 0;

    if (s->bytes + len > (unsigned long long)DOSIM_DOWNLOAD_MAX) {
        s->too_big = true;
        return 0;
    }
    while (done < len) {
        ssize_t w = write(s->fd, p + done, len - done);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            s->write_failed = true;
            return 0;
        }
        done += (size_t)w;
    }
    s->bytes += len;
    return len;
}

static dp_rc transfer(const struct dosim_fetch *f, struct sink *s, long *status, struct dp_err *err)
{
    CURL *c = curl_easy_init();
    struct curl_slist *hdrs = NULL;
    char ebuf[CURL_ERROR_SIZE] = "";
    CURLcode cc;

    if (!c)
        return dp_err_set(err, DP_ENOMEM, "out of memory");
    curl_easy_setopt(c, CURLOPT_URL, f->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, f->timeout_s > 0 ? f->timeout_s : DOSIM_DOWNLOAD_S);
    if (f->connect_s > 0)
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, f->connect_s);
    curl_easy_setopt(c, CURLOPT_FAILONERROR, f->fail ? 1L : 0L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
    if (f->cacert)
        curl_easy_setopt(c, CURLOPT_CAINFO, f->cacert);
    if (f->header && (hdrs = curl_slist_append(NULL, f->header)))
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    if (s->too_big)
        return dp_err_set(err, DP_ETOOBIG, "download over %ld bytes", DOSIM_DOWNLOAD_MAX);
    if (cc != CURLE_OK)
        return dp_err_set(err, DP_EUPSTREAM, "(%d) %s", (int)cc,
                          ebuf[0] ? ebuf : curl_easy_strerror(cc));
    return DP_OK;
}

dp_rc dosim_fetch_run(const struct dosim_fetch *f, long *status, unsigned long long *bytes,
                      struct dp_err *err)
{
    struct sink s = {.fd = -1};
    char tmp[300];
    const char *leaf;
    int parent;
    dp_rc rc = dosim_fetch_url_ok(f->url, err);

    *status = 0;
    *bytes = 0;
    if (rc)
        return rc;
    parent = dp_stage_open_parent(f->root_fd, f->rel_out, true, &leaf, NULL);
    if (parent < 0 || !*leaf)
        return dp_err_set(err, DP_EIO, "cannot write /%.200s", f->rel_out);
    snprintf(tmp, sizeof(tmp), ".%.200s.part-%ld", leaf, (long)getpid());
    unlinkat(parent, tmp, 0);
    s.fd = openat(parent, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (s.fd < 0)
        rc = dp_err_set(err, DP_EIO, "cannot write /%.200s: %s", f->rel_out, strerror(errno));
    else
        rc = transfer(f, &s, status, err);
    if (s.fd >= 0)
        close(s.fd);
    if (!rc && renameat(parent, tmp, parent, leaf) != 0)
        rc = dp_err_set(err, DP_EIO, "cannot write /%.200s: %s", f->rel_out, strerror(errno));
    if (rc)
        unlinkat(parent, tmp, 0);
    close(parent);
    *bytes = s.bytes;
    return rc;
}
