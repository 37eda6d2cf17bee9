#include "dosim_shell.h"

#include <string.h>

enum qstate { Q_OUT, Q_SINGLE, Q_DOUBLE };

struct parse {
    struct dosim_sh_line *l;
    bool in_word;
    size_t word;
    const char *why;
};

static struct dosim_sh_cmd *cur_cmd(struct parse *p)
{
    struct dosim_sh_pipe *pp = &p->l->pipe[p->l->npipe - 1];

    return &pp->cmd[pp->ncmd - 1];
}

static void open_word(struct parse *p)
{
    if (!p->in_word) {
        p->in_word = true;
        p->word = p->l->used;
    }
}

static bool put(struct parse *p, char c)
{
    if (p->l->used + 1 >= sizeof(p->l->buf)) {
        p->why = "the line is too long";
        return false;
    }
    open_word(p);
    p->l->buf[p->l->used++] = c;
    return true;
}

static bool end_word(struct parse *p)
{
    struct dosim_sh_cmd *c = cur_cmd(p);

    if (!p->in_word)
        return true;
    if (p->l->used >= sizeof(p->l->buf)) {
        p->why = "the line is too long";
        return false;
    }
    p->l->buf[p->l->used++] = '\0';
    p->in_word = false;
    if (c->argc == DOSIM_ARGV_MAX) {
        p->why = "too many words in a command";
        return false;
    }
    c->argv[c->argc++] = p->l->buf + p->word;
    return true;
}

/* Starts a new pipeline (op '&' or ';') or a new command in this pipeline (op '|'). */
static bool next(struct parse *p, char op)
{
    struct dosim_sh_pipe *pp = &p->l->pipe[p->l->npipe - 1];

    if (!end_word(p))
        return false;
    if (cur_cmd(p)->argc == 0) {
        p->why = "an operator without a command before it";
        return false;
    }
    if (op == '|') {
        if (pp->ncmd == 2) {
            p->why = "pipelines of more than two commands";
            return false;
        }
        pp->ncmd++;
        return true;
    }
    if (p->l->npipe == DOSIM_SH_PIPES_MAX) {
        p->why = "too many commands on one line";
        return false;
    }
    p->l->npipe++;
    p->l->pipe[p->l->npipe - 1].ncmd = 1;
    p->l->pipe[p->l->npipe - 1].op = op;
    return true;
}

/* One character outside quotes; *s advances past what it consumed. */
static bool outside(struct parse *p, const char **s, enum qstate *q)
{
    char c = **s;

    if (c == ' ' || c == '\t')
        return end_word(p);
    if (c == '\'' || c == '"') {
        *q = c == '\'' ? Q_SINGLE : Q_DOUBLE;
        open_word(p); /* "" is a word too */
        return true;
    }
    if (c == '\\') {
        if (!(*s)[1])
            return (p->why = "a trailing backslash", false);
        return put(p, *++*s);
    }
    if (c == '&' && (*s)[1] == '&')
        return ++*s, next(p, '&');
    if (c == ';')
        return next(p, ';');
    if (c == '|' && (*s)[1] != '|')
        return next(p, '|');
    if (strchr("$`<>(){}*?[]!&|", c) || (c == '~' && !p->in_word))
        return (p->why = "shell expansions, redirections and operators other than && ; |", false);
    return put(p, c);
}

static bool inside_double(struct parse *p, const char **s, enum qstate *q)
{
    char c = **s;

    if (c == '"') {
        *q = Q_OUT;
        return true;
    }
    if (c == '\\' && (*s)[1] && strchr("\"\\$`", (*s)[1]))
        return put(p, *++*s);
    if (c == '$' || c == '`')
        return (p->why = "shell expansions", false);
    return put(p, c);
}

bool dosim_sh_parse(struct dosim_sh_line *out, const char *line, const char **why)
{
    struct parse p = {.l = out};
    enum qstate q = Q_OUT;
    bool ok = true;

    memset(out, 0, sizeof(*out));
    out->npipe = 1;
    out->pipe[0].ncmd = 1;
    for (const char *s = line; ok && *s; s++) {
        if (q == Q_OUT && *s == '#' && !p.in_word)
            break; /* a comment */
        if (q == Q_OUT)
            ok = outside(&p, &s, &q);
        else if (q == Q_SINGLE)
            ok = *s == '\'' ? (q = Q_OUT, true) : put(&p, *s);
        else
            ok = inside_double(&p, &s, &q);
    }
    if (ok && q != Q_OUT)
        ok = (p.why = "an unterminated quote", false);
    if (ok)
        ok = end_word(&p);
    if (ok && cur_cmd(&p)->argc == 0 && (out->npipe > 1 || out->pipe[0].ncmd > 1))
        ok = (p.why = "an operator without a command after it", false);
    *why = p.why;
    return ok;
}

bool dosim_sh_from_argv(struct dosim_sh_line *out, const char *const *argv, int argc)
{
    struct dosim_sh_cmd *c = &out->pipe[0].cmd[0];

    memset(out, 0, sizeof(*out));
    out->npipe = 1;
    out->pipe[0].ncmd = 1;
    if (argc > DOSIM_ARGV_MAX)
        return false;
    for (int i = 0; i < argc; i++) {
        size_t n = strlen(argv[i]) + 1;

        if (out->used + n > sizeof(out->buf))
            return false;
        memcpy(out->buf + out->used, argv[i], n);
        c->argv[c->argc++] = out->buf + out->used;
        out->used += n;
    }
    return true;
}
