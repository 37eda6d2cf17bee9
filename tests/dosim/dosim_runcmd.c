#include "dosim_runcmd.h"

#include "dosim_cmd.h"
#include "dosim_shell.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define NEST_MAX 2 /* sh -c inside sh -c */

void dosim_ci_log(struct dosim_ci *ci, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vfprintf(ci->log, fmt, ap);
    va_end(ap);
    fputc('\n', ci->log);
    fflush(ci->log);
}

static bool line_ok(const struct dosim_sh_line *l, int depth);

/* sh -c STRING / bash -c STRING (also -ec): the string is a line of its own. */
static bool nested(const struct dosim_sh_cmd *c, const char **text)
{
    const char *n = c->argv[0];

    if (strcmp(n, "sh") != 0 && strcmp(n, "bash") != 0 && strcmp(n, "/bin/sh") != 0 &&
        strcmp(n, "/bin/bash") != 0)
        return false;
    if (c->argc != 3 || (strcmp(c->argv[1], "-c") != 0 && strcmp(c->argv[1], "-ec") != 0))
        return false;
    *text = c->argv[2];
    return true;
}

static bool cmd_ok(const struct dosim_sh_cmd *c, int depth)
{
    const char *n = c->argv[0], *text;
    const char *why;
    struct dosim_sh_line *inner;
    bool ok;

    if (nested(c, &text)) {
        if (depth >= NEST_MAX || strlen(text) > DOSIM_LINE_MAX || !(inner = malloc(sizeof(*inner))))
            return false;
        ok = dosim_sh_parse(inner, text, &why) && line_ok(inner, depth + 1);
        free(inner);
        return ok;
    }
    if (strcmp(n, "curl") == 0)
        return dosim_cmd_curl_ok(c);
    if (strcmp(n, "sha256sum") == 0)
        return dosim_cmd_sha256sum_ok(c, false);
    if (strcmp(n, "tar") == 0)
        return dosim_cmd_tar_ok(c);
    if (strcmp(n, "systemctl") == 0)
        return dosim_cmd_systemctl_ok(c);
    return dosim_cmd_simple_ok(c);
}

static bool pipe_ok(const struct dosim_sh_pipe *p, int depth)
{
    if (p->ncmd == 1)
        return cmd_ok(&p->cmd[0], depth);
    return strcmp(p->cmd[0].argv[0], "echo") == 0 && strcmp(p->cmd[1].argv[0], "sha256sum") == 0 &&
           dosim_cmd_sha256sum_ok(&p->cmd[1], true);
}

static bool line_ok(const struct dosim_sh_line *l, int depth)
{
    for (int i = 0; i < l->npipe; i++) {
        if (!pipe_ok(&l->pipe[i], depth))
            return false;
    }
    return true;
}

static int run_line(struct dosim_ci *ci, const struct dosim_sh_line *l, int depth, bool *trigger);

static int run_cmd(struct dosim_ci *ci, const struct dosim_sh_cmd *c, int depth)
{
    const char *n = c->argv[0], *text, *why;
    char desc[1024];
    struct dosim_sh_line *inner;
    bool trigger;
    int status;

    dosim_cmd_describe(desc, sizeof(desc), c);
    dosim_ci_log(ci, "+ %s", desc);
    if (nested(c, &text)) {
        inner = malloc(sizeof(*inner));
        if (!inner || !dosim_sh_parse(inner, text, &why)) {
            free(inner);
            return 2;
        }
        status = run_line(ci, inner, depth + 1, &trigger);
        free(inner);
        return status;
    }
    if (strcmp(n, "curl") == 0)
        return dosim_cmd_curl(ci, c);
    if (strcmp(n, "sha256sum") == 0)
        return dosim_cmd_sha256sum(ci, c, NULL);
    if (strcmp(n, "tar") == 0)
        return dosim_cmd_tar(ci, c);
    if (strcmp(n, "systemctl") == 0)
        return dosim_cmd_systemctl(ci, c);
    return dosim_cmd_simple(ci, c);
}

/* echo WORDS | sha256sum -c -: echo's words, a space between, and a newline, are the input. */
static int run_pipe(struct dosim_ci *ci, const struct dosim_sh_pipe *p, int depth)
{
    char input[DOSIM_LINE_MAX + 2], d1[1024], d2[256];
    const struct dosim_sh_cmd *e = &p->cmd[0];
    size_t n = 0;

    if (p->ncmd == 1)
        return run_cmd(ci, &p->cmd[0], depth);
    input[0] = '\0';
    for (int i = 1; i < e->argc && n < DOSIM_LINE_MAX; i++)
        n += (size_t)snprintf(input + n, DOSIM_LINE_MAX - n, "%s%s", i > 1 ? " " : "", e->argv[i]);
    if (n < DOSIM_LINE_MAX)
        snprintf(input + n, sizeof(input) - n, "\n");
    dosim_cmd_describe(d1, sizeof(d1), e);
    dosim_cmd_describe(d2, sizeof(d2), &p->cmd[1]);
    dosim_ci_log(ci, "+ %s | %s", d1, d2);
    return dosim_cmd_sha256sum(ci, &p->cmd[1], input);
}

/* Runs the pipelines with && and ; as sh does. *trigger: a failure that set -e acts on (not the
 * left side of an &&). */
static int run_line(struct dosim_ci *ci, const struct dosim_sh_line *l, int depth, bool *trigger)
{
    int status = 0;

    *trigger = false;
    for (int i = 0; i < l->npipe; i++) {
        bool last_of_chain = i + 1 == l->npipe || l->pipe[i + 1].op != '&';

        if (l->pipe[i].op == '&' && status != 0)
            continue;
        status = run_pipe(ci, &l->pipe[i], depth);
        if (status != 0 && last_of_chain && ci->errexit) {
            *trigger = true;
            break;
        }
    }
    return status;
}

static void run_parsed(struct dosim_ci *ci, const struct dosim_sh_line *l, const char *shown)
{
    bool trigger = false;
    int status;

    if (!line_ok(l, 0)) {
        ci->skipped++;
        dosim_ci_log(ci, "dosim: skipped (not simulated): %.300s", shown);
        return;
    }
    status = run_line(ci, l, 0, &trigger);
    if (status != 0) {
        ci->failed++;
        dosim_ci_log(ci, "dosim: exit status %d", status);
    }
    if (trigger) {
        ci->ended = true;
        dosim_ci_log(ci, "dosim: set -e: runcmd ends at this failure");
    }
}

void dosim_runcmd_line(struct dosim_ci *ci, const char *line)
{
    struct dosim_sh_line *l;
    const char *why = NULL;

    if (ci->ended)
        return;
    ci->entries++;
    l = malloc(sizeof(*l));
    if (!l || strlen(line) > DOSIM_LINE_MAX || !dosim_sh_parse(l, line, &why)) {
        ci->skipped++;
        dosim_ci_log(ci, "dosim: skipped (not simulated: %s): %.300s", why ? why : "too long",
                     line);
    } else if (l->pipe[0].cmd[0].argc > 0) {
        run_parsed(ci, l, line);
    } else {
        ci->entries--; /* blank or a comment */
    }
    free(l);
}

static char *join_words(const json_t *arr)
{
    size_t i, n = 0;
    const json_t *v;
    char *s = malloc(DOSIM_LINE_MAX + 1);

    if (!s)
        return NULL;
    s[0] = '\0';
    json_array_foreach(arr, i, v)
    {
        if (n < DOSIM_LINE_MAX)
            n += (size_t)snprintf(s + n, DOSIM_LINE_MAX + 1 - n, "%s%s", i ? " " : "",
                                  json_is_string(v) ? json_string_value(v) : "?");
    }
    return s;
}

static void run_argv(struct dosim_ci *ci, const json_t *arr)
{
    const char *argv[DOSIM_ARGV_MAX + 1];
    struct dosim_sh_line *l = malloc(sizeof(*l));
    char *shown = join_words(arr);
    size_t i, n = json_array_size(arr);
    const json_t *v;
    bool ok = l && shown && n > 0 && n <= DOSIM_ARGV_MAX;

    json_array_foreach(arr, i, v)
    {
        if (ok && !json_is_string(v))
            ok = false;
        else if (ok)
            argv[i] = json_string_value(v);
    }
    ok = ok && dosim_sh_from_argv(l, argv, (int)n);
    ci->entries++;
    if (ok) {
        run_parsed(ci, l, shown);
    } else {
        ci->skipped++;
        dosim_ci_log(ci, "dosim: skipped (not a list of words): %.300s", shown ? shown : "?");
    }
    free(l);
    free(shown);
}

void dosim_runcmd_entry(struct dosim_ci *ci, const json_t *entry)
{
    if (ci->ended)
        return;
    if (json_is_string(entry)) {
        dosim_runcmd_line(ci, json_string_value(entry));
    } else if (json_is_array(entry)) {
        run_argv(ci, entry);
    } else {
        ci->entries++;
        ci->skipped++;
        dosim_ci_log(ci, "dosim: skipped a runcmd entry that is neither a string nor a list");
    }
}
