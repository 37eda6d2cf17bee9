/* What the user sees: JSON lines (--json) on stdout, or on stderr one status line that updates
 * in place on a terminal (step, elapsed, what it waits for) and plain lines otherwise; log
 * events as lines; the last event as a summary on stdout or an error on stderr. */
#include "snap.h"

#include "dp_clock.h"
#include "dp_json.h"

#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define REDRAW_MS 1000 /* the status line's elapsed time moves once a second */

static const char *str(const json_t *ev, const char *key)
{
    const char *v = json_string_value(json_object_get(ev, key));

    return v ? v : "";
}

static long long elapsed_s(const struct snap_out *o)
{
    return (long long)((dp_mono_ms() - o->t0) / 1000);
}

static int term_width(void)
{
    struct winsize ws;

    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
        return ws.ws_col;
    return 100;
}

static void clear_line(struct snap_out *o)
{
    if (o->line_open)
        fputs("\r\033[K", stderr);
    o->line_open = false;
}

static void status_text(char *buf, size_t size, const struct snap_out *o)
{
    snprintf(buf, size, "[%4llds] %s%s%s", elapsed_s(o), o->step,
             o->waiting_for[0] ? ": waiting for " : "", o->waiting_for);
}

static void draw(struct snap_out *o)
{
    char line[512];
    int w = term_width() - 1;

    status_text(line, sizeof(line), o);
    if ((int)strlen(line) > w)
        line[w] = '\0';
    fprintf(stderr, "\r\033[K%s", line);
    fflush(stderr);
    o->line_open = true;
    o->last_draw_ms = dp_mono_ms();
}

static void on_progress(struct snap_out *o, const json_t *ev)
{
    char step[sizeof(o->step)], waiting[sizeof(o->waiting_for)], line[512];
    bool changed;

    snprintf(step, sizeof(step), "%s", str(ev, "step"));
    snprintf(waiting, sizeof(waiting), "%s", str(ev, "waiting_for"));
    changed = strcmp(step, o->step) != 0 || strcmp(waiting, o->waiting_for) != 0;
    memcpy(o->step, step, sizeof(step));
    memcpy(o->waiting_for, waiting, sizeof(waiting));
    if (o->tty) {
        draw(o);
    } else if (changed) {
        status_text(line, sizeof(line), o);
        fprintf(stderr, "%s\n", line);
    }
}

static dp_rc out_emit(void *ud, json_t *ev)
{
    struct snap *s = ud;
    struct snap_out *o = &s->out;
    const char *type = str(ev, "type");

    if (o->json) {
        char *text = dp_json_dump(ev);

        if (text)
            printf("%s\n", text);
        free(text);
        fflush(stdout);
    } else if (strcmp(type, "progress") == 0) {
        on_progress(o, ev);
    } else if (strcmp(type, "log") == 0) {
        clear_line(o);
        fprintf(stderr, "[%4llds] %s\n", elapsed_s(o), str(ev, "message"));
        if (o->tty && o->step[0])
            draw(o);
    }
    return DP_OK;
}

static int out_tick(void *ud)
{
    struct snap *s = ud;
    struct snap_out *o = &s->out;

    if (atomic_load(o->interrupts) > 0)
        return 1;
    if (o->tty && !o->json && o->step[0] && dp_mono_ms() - o->last_draw_ms >= REDRAW_MS)
        draw(o);
    return 0;
}

void snap_out_init(struct snap *s)
{
    struct snap_out *o = &s->out;

    memset(o, 0, sizeof(*o));
    o->json = s->conf.json;
    o->tty = !o->json && isatty(STDERR_FILENO);
    o->t0 = dp_mono_ms();
    o->interrupts = &s->interrupts;
    s->pr.emit = out_emit;
    s->pr.tick = out_tick;
    s->pr.ud = s;
}

static void print_regions(const json_t *regions, FILE *f)
{
    json_t *r;
    size_t i;

    json_array_foreach(regions, i, r) fprintf(f, "%s%s", i ? ", " : "", json_string_value(r));
}

static void human_done(const json_t *ev)
{
    const json_t *snap = json_object_get(ev, "snapshot");
    const json_t *rebuilt = json_object_get(ev, "rebuilt");

    if (json_is_false(rebuilt))
        printf("the base snapshot %s (%lld) is current: nothing to do (it is in ",
               str(snap, "name"), (long long)json_integer_value(json_object_get(snap, "id")));
    else
        printf("snapshot %s (%lld) is ready in ", str(snap, "name"),
               (long long)json_integer_value(json_object_get(snap, "id")));
    print_regions(json_object_get(snap, "regions"), stdout);
    printf("%s%lld API calls, %lld s)\n", json_is_false(rebuilt) ? "; " : " (",
           (long long)json_integer_value(json_object_get(ev, "api_calls")),
           (long long)json_integer_value(json_object_get(ev, "elapsed_s")));
}

void snap_out_final(struct snap *s, const json_t *ev)
{
    if (s->out.json) {
        out_emit(s, (json_t *)ev);
        return;
    }
    clear_line(&s->out);
    if (strcmp(str(ev, "type"), "done") == 0) {
        human_done(ev);
        return;
    }
    fprintf(stderr, "error: %s\n", str(ev, "detail"));
    if (json_integer_value(json_object_get(json_object_get(ev, "snapshot"), "id")))
        fprintf(
            stderr, "the snapshot %s (%lld) was made and is kept\n",
            str(json_object_get(ev, "snapshot"), "name"),
            (long long)json_integer_value(json_object_get(json_object_get(ev, "snapshot"), "id")));
    fprintf(stderr, "(%lld API calls, %lld s)\n",
            (long long)json_integer_value(json_object_get(ev, "api_calls")),
            (long long)json_integer_value(json_object_get(ev, "elapsed_s")));
}

void snap_out_answer(struct snap *s, const json_t *answer, void (*human)(const json_t *, FILE *))
{
    clear_line(&s->out);
    if (s->out.json) {
        char *text = dp_json_dump(answer);

        if (text)
            printf("%s\n", text);
        free(text);
    } else {
        human(answer, stdout);
    }
    fflush(stdout);
}

void snap_out_error(struct snap *s, const struct dp_err *err)
{
    clear_line(&s->out);
    if (s->out.json) {
        json_t *ev = json_pack("{s:s, s:s, s:s}", "type", "error", "error",
                               err->code[0] ? err->code : dp_rc_code(err->rc), "detail", err->msg);
        char *text = ev ? dp_json_dump(ev) : NULL;

        if (text)
            printf("%s\n", text);
        free(text);
        json_decref(ev);
        fflush(stdout);
        return;
    }
    fprintf(stderr, "error: %s\n", err->msg);
}
