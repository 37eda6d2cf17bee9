/* Drives the agent client (infra/dp_agentc*) and the certificate maker (infra/dp_tlsgen) for
 * tests/it/agentc.sh. One subcommand a run; results on stdout, one line each:
 *   gen-cert DIR [CN [IP]]          DIR/cert.pem, DIR/key.pem (0600), DIR/pin; prints the pin
 *   ping                            "ok <version>"
 *   wait-ready MS                   "ok ready"
 *   call METHOD PATH [JSON]         "ok <answer>"
 *   stream PATH [JSON]              "event <json>" per event, then "ok <done event>"
 *   upload PATH TAR [clean]         "ok <answer>"
 *   copy-image REF                  "ok <image id>" (target flags --to-*)
 *   parallel N                      N threads each ping, list containers and stream logs
 * Failures print "error <rc> <code>: <message>" and exit 1. Every run ends with
 * "ms <elapsed> ticks <n> maxgap_ms <largest gap between ticks> maxrss_kb <peak RSS>".
 * Target flags: --url U, --key K | --key-file F, --pin P, --stall-ms N, --connect-ms N,
 * --req-id ID, and --to-url/--to-key-file/--to-pin for copy-image's target. --body-file F
 * streams a file (or - for stdin) as the body; --cancel-after-ms N and --cancel-after-ticks N
 * make tick ask to stop. */
#include "dp_agentc.h"
#include "dp_clock.h"
#include "dp_image.h"
#include "dp_tlsgen.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

struct opts {
    struct dp_agent_target t, to;
    const char *body_file;
    long cancel_after_ms;
    long cancel_after_ticks;
};

struct ticker {
    int64_t start, last, maxgap;
    long ticks;
    const struct opts *o;
    pthread_mutex_t mu;
};

static int tick(void *ud)
{
    struct ticker *k = ud;
    int64_t now = dp_mono_ms();
    int stop;

    pthread_mutex_lock(&k->mu);
    if (now - k->last > k->maxgap)
        k->maxgap = now - k->last;
    k->last = now;
    k->ticks++;
    stop = (k->o->cancel_after_ms > 0 && now - k->start >= k->o->cancel_after_ms) ||
           (k->o->cancel_after_ticks > 0 && k->ticks >= k->o->cancel_after_ticks);
    pthread_mutex_unlock(&k->mu);
    return stop;
}

static dp_rc emit(void *ud, json_t *ev)
{
    char *s = json_dumps(ev, JSON_COMPACT);

    (void)ud;
    printf("event %s\n", s ? s : "?");
    fflush(stdout);
    free(s);
    return DP_OK;
}

static void print_json(const char *tag, const json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

    printf("%s %s\n", tag, s ? s : "null");
    free(s);
}

static int report(dp_rc rc, const struct dp_err *err)
{
    if (rc == DP_OK)
        return 0;
    printf("error %s %s: %s\n", dp_rc_code(rc), err->code, err->msg);
    return 1;
}

static void read_key(char *out, size_t size, const char *path)
{
    FILE *f = fopen(path, "r");

    out[0] = '\0';
    if (!f) {
        perror(path);
        exit(2);
    }
    if (fgets(out, (int)size, f))
        out[strcspn(out, " \t\r\n")] = '\0';
    fclose(f);
}

static int usage(void)
{
    fprintf(stderr, "usage: agentc_check [flags] gen-cert|ping|wait-ready|call|stream|upload|"
                    "copy-image|parallel ...\n");
    return 2;
}

/* Flags before the subcommand; returns the index of the subcommand. */
static int parse_flags(struct opts *o, int argc, char **argv)
{
    int i = 1;

    dp_agent_target_init(&o->t, "127.0.0.1", "", "");
    dp_agent_target_init(&o->to, "127.0.0.1", "", "");
    for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        const char *f = argv[i], *v = argv[i + 1];

        if (strcmp(f, "--url") == 0)
            snprintf(o->t.url, sizeof(o->t.url), "%s", v);
        else if (strcmp(f, "--key") == 0)
            snprintf(o->t.key, sizeof(o->t.key), "%s", v);
        else if (strcmp(f, "--key-file") == 0)
            read_key(o->t.key, sizeof(o->t.key), v);
        else if (strcmp(f, "--pin") == 0)
            snprintf(o->t.pin, sizeof(o->t.pin), "%s", v);
        else if (strcmp(f, "--stall-ms") == 0)
            o->t.stall_ms = o->to.stall_ms = strtol(v, NULL, 10);
        else if (strcmp(f, "--connect-ms") == 0)
            o->t.connect_ms = o->to.connect_ms = strtol(v, NULL, 10);
        else if (strcmp(f, "--req-id") == 0)
            snprintf(o->t.req_id, sizeof(o->t.req_id), "%s", v);
        else if (strcmp(f, "--to-url") == 0)
            snprintf(o->to.url, sizeof(o->to.url), "%s", v);
        else if (strcmp(f, "--to-key-file") == 0)
            read_key(o->to.key, sizeof(o->to.key), v);
        else if (strcmp(f, "--to-pin") == 0)
            snprintf(o->to.pin, sizeof(o->to.pin), "%s", v);
        else if (strcmp(f, "--body-file") == 0)
            o->body_file = v;
        else if (strcmp(f, "--cancel-after-ms") == 0)
            o->cancel_after_ms = strtol(v, NULL, 10);
        else if (strcmp(f, "--cancel-after-ticks") == 0)
            o->cancel_after_ticks = strtol(v, NULL, 10);
        else
            return -1;
    }
    return i < argc ? i : -1;
}

static int write_file(const char *dir, const char *name, const char *data, size_t len, mode_t mode)
{
    char path[1024];
    int fd;
    ssize_t w;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0)
        return -1;
    w = write(fd, data, len);
    close(fd);
    return w == (ssize_t)len ? 0 : -1;
}

static int cmd_gen_cert(int argc, char **argv)
{
    struct dp_buf cert, key;
    struct dp_err err = {0};
    char pin[64];
    dp_rc rc;

    if (argc < 1)
        return usage();
    rc = dp_tlsgen_self_signed(&cert, &key, pin, argc > 1 ? argv[1] : "node-agent",
                               argc > 2 ? argv[2] : NULL, &err);
    if (rc == DP_OK && (write_file(argv[0], "cert.pem", cert.data, cert.len, 0644) ||
                        write_file(argv[0], "key.pem", key.data, key.len, 0600) ||
                        write_file(argv[0], "pin", pin, strlen(pin), 0644)))
        rc = dp_err_set(&err, DP_EIO, "cannot write to %s", argv[0]);
    if (rc == DP_OK)
        printf("ok %s\n", pin);
    dp_buf_clear(&cert);
    dp_tlsgen_wipe(&key);
    return report(rc, &err);
}

static json_t *json_arg(int argc, char **argv, int i)
{
    json_error_t je;
    json_t *j;

    if (i >= argc)
        return NULL;
    j = json_loads(argv[i], 0, &je);
    if (!j) {
        fprintf(stderr, "bad JSON argument: %s\n", je.text);
        exit(2);
    }
    return j;
}

static int cmd_stream(const struct opts *o, struct dp_progress *pr, int argc, char **argv)
{
    json_t *body = json_arg(argc, argv, 1), *done = NULL;
    struct dp_err err = {0};
    int fd = -1;
    dp_rc rc;

    if (argc < 1)
        return usage();
    if (o->body_file)
        fd = strcmp(o->body_file, "-") == 0 ? 0 : open(o->body_file, O_RDONLY);
    rc = dp_agent_stream(&o->t, argv[0], body, fd, pr, &done, &err);
    if (rc == DP_OK)
        print_json("ok", done);
    if (fd > 0)
        close(fd);
    json_decref(body);
    json_decref(done);
    return report(rc, &err);
}

static int cmd_call(const struct opts *o, int argc, char **argv)
{
    json_t *body = json_arg(argc, argv, 2), *out = NULL;
    struct dp_err err = {0};
    dp_rc rc;

    if (argc < 2)
        return usage();
    rc = dp_agent_call(&o->t, argv[0], argv[1], body, &out, &err);
    if (rc == DP_OK)
        print_json("ok", out);
    json_decref(body);
    json_decref(out);
    return report(rc, &err);
}

static int cmd_upload(const struct opts *o, int argc, char **argv)
{
    json_t *out = NULL;
    struct dp_err err = {0};
    int fd;
    dp_rc rc;

    if (argc < 2)
        return usage();
    fd = strcmp(argv[1], "-") == 0 ? 0 : open(argv[1], O_RDONLY);
    if (fd < 0) {
        perror(argv[1]);
        return 2;
    }
    rc = dp_agent_upload(&o->t, argv[0], argc > 2 && strcmp(argv[2], "clean") == 0, fd, &out, &err);
    if (rc == DP_OK)
        print_json("ok", out);
    if (fd > 0)
        close(fd);
    json_decref(out);
    return report(rc, &err);
}

static int cmd_simple(const struct opts *o, struct dp_progress *pr, const char *cmd, int argc,
                      char **argv)
{
    struct dp_err err = {0};
    char version[32] = "", id[DP_IMAGE_ID_MAX] = "";
    dp_rc rc;

    if (strcmp(cmd, "ping") == 0) {
        rc = dp_agent_ping(&o->t, version, &err);
        if (rc == DP_OK)
            printf("ok %s\n", version);
    } else if (strcmp(cmd, "wait-ready") == 0 && argc >= 1) {
        rc = dp_agent_wait_ready(&o->t, strtol(argv[0], NULL, 10), pr, &err);
        if (rc == DP_OK)
            printf("ok ready\n");
    } else if (strcmp(cmd, "copy-image") == 0 && argc >= 1) {
        rc = dp_agent_copy_image(&o->t, &o->to, argv[0], id, pr, &err);
        if (rc == DP_OK)
            printf("ok %s\n", id);
    } else {
        return usage();
    }
    return report(rc, &err);
}

/* Many calls at once on one client: ping, a JSON call and a short stream per thread. */
struct worker {
    const struct opts *o;
    int failures;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct dp_err err = {0};
    json_t *out = NULL, *done = NULL;

    for (int i = 0; i < 5; i++) {
        char version[32];

        if (dp_agent_ping(&w->o->t, version, &err) != DP_OK ||
            dp_agent_call(&w->o->t, "GET", "/containers", NULL, &out, &err) != DP_OK ||
            dp_agent_stream(&w->o->t, "/images/no-such-image-dp/export", NULL, -1, NULL, &done,
                            &err) != DP_ENOTFOUND) {
            w->failures++;
            fprintf(stderr, "parallel: %s: %s\n", err.code, err.msg);
        }
        json_decref(out);
        json_decref(done);
        out = done = NULL;
    }
    return NULL;
}

static int cmd_parallel(const struct opts *o, int argc, char **argv)
{
    int n = argc > 0 ? atoi(argv[0]) : 8, failures = 0;
    pthread_t th[64];
    struct worker w[64];

    if (n < 1 || n > 64)
        return usage();
    for (int i = 0; i < n; i++) {
        w[i] = (struct worker){o, 0};
        pthread_create(&th[i], NULL, worker_main, &w[i]);
    }
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        failures += w[i].failures;
    }
    printf(failures ? "error failures %d\n" : "ok %d\n", failures ? failures : n * 5);
    return failures ? 1 : 0;
}

static int dispatch(const struct opts *o, struct dp_progress *pr, int argc, char **argv)
{
    const char *cmd = argv[0];

    if (strcmp(cmd, "stream") == 0)
        return cmd_stream(o, pr, argc - 1, argv + 1);
    if (strcmp(cmd, "call") == 0)
        return cmd_call(o, argc - 1, argv + 1);
    if (strcmp(cmd, "upload") == 0)
        return cmd_upload(o, argc - 1, argv + 1);
    if (strcmp(cmd, "parallel") == 0)
        return cmd_parallel(o, argc - 1, argv + 1);
    return cmd_simple(o, pr, cmd, argc - 1, argv + 1);
}

int main(int argc, char **argv)
{
    struct opts o = {0};
    struct ticker k = {.o = &o, .mu = PTHREAD_MUTEX_INITIALIZER};
    struct dp_progress pr = {emit, tick, &k};
    struct rusage ru;
    int i = parse_flags(&o, argc, argv), status;

    if (i < 0)
        return usage();
    if (strcmp(argv[i], "gen-cert") == 0)
        return cmd_gen_cert(argc - i - 1, argv + i + 1);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    json_object_seed(0);
    k.start = k.last = dp_mono_ms();
    status = dispatch(&o, &pr, argc - i, argv + i);
    getrusage(RUSAGE_SELF, &ru);
    printf("ms %lld ticks %ld maxgap_ms %lld maxrss_kb %ld\n", (long long)(dp_mono_ms() - k.start),
           k.ticks, (long long)k.maxgap, ru.ru_maxrss);
    OPENSSL_cleanse(o.t.key, sizeof(o.t.key));
    curl_global_cleanup();
    return status;
}
