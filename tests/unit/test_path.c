/* Client paths below the data root: normalised forms, refusals, the join, symlink targets and
 * the quoting used in messages. */
#include "dp_path.h"
#include "th.h"

#include <stdlib.h>

static void norm_ok(const char *in, const char *want)
{
    char out[DP_PATH_MAX + 1];
    struct dp_err err = {0};

    TH_EQ_INT(dp_path_normalize(out, sizeof(out), in, &err), DP_OK);
    TH_EQ_STR(out, want);
}

static void norm_refused(const char *in, const char *msg_part)
{
    char out[DP_PATH_MAX + 1] = "junk";
    struct dp_err err = {0};

    TH_EQ_INT(dp_path_normalize(out, sizeof(out), in, &err), DP_EINVAL);
    TH_EQ_STR(out, ""); /* never a half-made path */
    TH_EQ_STR(err.code, "invalid_path");
    if (msg_part && !strstr(err.msg, msg_part)) {
        th_failures++;
        fprintf(stderr, "message for '%s' lacks '%s': %s\n", in, msg_part, err.msg);
    }
}

static void slashes_and_dots_normalise(void)
{
    norm_ok("/app/web", "/app/web");
    norm_ok("/app/web/", "/app/web");
    norm_ok("app/web", "/app/web");
    norm_ok("//app///web//", "/app/web");
    norm_ok("/app/./web/.", "/app/web");
    norm_ok("./app", "/app");
    norm_ok("/app", "/app");
    norm_ok("/app/", "/app");
    norm_ok("/app/my_site-2.0", "/app/my_site-2.0");
    norm_ok("/A/Z/0/9/_x", "/A/Z/0/9/_x");
}

static void dotdot_is_refused_not_resolved(void)
{
    norm_refused("/app/../etc", "'..'");
    norm_refused("..", "'..'");
    norm_refused("/app/..", "'..'");
    norm_refused("/app/web/../../..", "'..'");
    norm_refused("../app", "'..'");
}

static void empty_root_and_bad_characters_refused(void)
{
    char longp[DP_PATH_MAX + 2];

    norm_refused("", "empty");
    norm_refused("/", "data root itself");
    norm_refused("///./.", "data root itself");
    norm_refused("/app/we b", "letters, digits");
    norm_refused("/app/web\n", "letters, digits");
    norm_refused("/app/\x01x", "letters, digits");
    norm_refused("/app/x\x7f", "letters, digits");
    norm_refused("/app/caf\xc3\xa9", "letters, digits");
    norm_refused("/app/a\\b", "letters, digits");
    norm_refused("/app/a:b", "letters, digits");
    norm_refused("/app/*", "letters, digits");
    norm_refused("/.staging/x", "starting with '.'");
    norm_refused("/app/.git", "starting with '.'");
    norm_refused("/app/...", "starting with '.'");
    norm_refused("/app/-rf", "starting with '.' or '-'");
    memset(longp, 'a', sizeof(longp) - 1);
    longp[0] = '/';
    longp[sizeof(longp) - 1] = '\0';
    norm_refused(longp, "longer than");
    memset(longp, 'a', 300);
    longp[0] = '/';
    longp[300] = '\0';
    norm_refused(longp, "255 bytes");
}

static void control_characters_are_quoted_in_messages(void)
{
    struct dp_err err = {0};
    char out[64];

    TH_EQ_INT(dp_path_normalize(out, sizeof(out), "/app/\x1b[31mred", &err), DP_EINVAL);
    TH_CHECK(strstr(err.msg, "\\x1b[31mred") != NULL);
    TH_CHECK(strchr(err.msg, '\x1b') == NULL);
}

static void small_output_is_toobig(void)
{
    char out[6];
    struct dp_err err = {0};

    TH_EQ_INT(dp_path_normalize(out, sizeof(out), "/app/web", &err), DP_ETOOBIG);
    TH_EQ_INT(dp_path_normalize(out, sizeof(out), "/app", &err), DP_OK);
    TH_EQ_STR(out, "/app");
}

static void null_input_refused(void)
{
    char out[16];
    struct dp_err err = {0};

    TH_EQ_INT(dp_path_normalize(out, sizeof(out), NULL, &err), DP_EINVAL);
}

static void under_root_joins(void)
{
    char out[64];
    struct dp_err err = {0};

    TH_EQ_INT(dp_path_under_root(out, sizeof(out), "/var/lib/node-agent", "/app/web", &err), DP_OK);
    TH_EQ_STR(out, "/var/lib/node-agent/app/web");
    TH_EQ_INT(dp_path_under_root(out, sizeof(out), "/srv/data//", "/app", &err), DP_OK);
    TH_EQ_STR(out, "/srv/data/app");
    TH_EQ_INT(dp_path_under_root(out, sizeof(out), "/", "/app", &err), DP_OK);
    TH_EQ_STR(out, "/app");
}

static void under_root_refuses_what_is_not_normalised(void)
{
    char out[64];
    struct dp_err err = {0};

    TH_EQ_INT(dp_path_under_root(out, sizeof(out), "/d", "/app/../etc", &err), DP_EINVAL);
    TH_EQ_STR(out, "");
    TH_EQ_INT(dp_path_under_root(out, sizeof(out), "/d", "app/web", &err), DP_EINVAL);
    TH_EQ_INT(dp_path_under_root(out, sizeof(out), "/d", "/app/web/", &err), DP_EINVAL);
    TH_EQ_INT(dp_path_under_root(out, sizeof(out), "/d", "/", &err), DP_EINVAL);
    TH_EQ_INT(dp_path_under_root(out, sizeof(out), "/d", "", &err), DP_EINVAL);
    TH_EQ_INT(dp_path_under_root(out, sizeof(out), "relative", "/app", &err), DP_EINVAL);
    TH_EQ_INT(dp_path_under_root(out, sizeof(out), "", "/app", &err), DP_EINVAL);
    TH_EQ_INT(dp_path_under_root(out, 8, "/data", "/app/web", &err), DP_ETOOBIG);
    TH_EQ_STR(out, "");
}

static void link_targets(void)
{
    TH_CHECK(dp_path_link_target_ok("a", "b"));
    TH_CHECK(dp_path_link_target_ok("a", "./b/c"));
    TH_CHECK(dp_path_link_target_ok("d/l", "../x"));
    TH_CHECK(dp_path_link_target_ok("d/l", ".."));
    TH_CHECK(dp_path_link_target_ok("d/e/l", "../../x/y"));
    TH_CHECK(dp_path_link_target_ok("d/e/l", "../.././x"));
    TH_CHECK(dp_path_link_target_ok("l", "."));
    TH_CHECK(dp_path_link_target_ok("l", "dangling/but/inside"));
    TH_CHECK(!dp_path_link_target_ok("l", ".."));
    TH_CHECK(!dp_path_link_target_ok("l", "../x"));
    TH_CHECK(!dp_path_link_target_ok("d/l", "../../x"));
    TH_CHECK(!dp_path_link_target_ok("l", "/etc/passwd"));
    TH_CHECK(!dp_path_link_target_ok("l", ""));
    TH_CHECK(!dp_path_link_target_ok("d/l", "a/../.."));
    TH_CHECK(!dp_path_link_target_ok("d/l", "a/../b")); /* could climb out through a link "a" */
    TH_CHECK(!dp_path_link_target_ok("d/l", "x\ny"));
    TH_CHECK(!dp_path_link_target_ok("", "x"));
    TH_CHECK(!dp_path_link_target_ok(NULL, "x"));
    TH_CHECK(!dp_path_link_target_ok("l", NULL));
}

static void quote_escapes_and_shortens(void)
{
    char out[64];

    dp_path_quote(out, sizeof(out), "a\tb\\c", 5, 80);
    TH_EQ_STR(out, "a\\x09b\\x5cc");
    dp_path_quote(out, sizeof(out), "abcdefgh", 8, 4);
    TH_EQ_STR(out, "abcd...");
    dp_path_quote(out, sizeof(out), "a\0b", 3, 80);
    TH_EQ_STR(out, "a\\x00b");
    dp_path_quote(out, 4, "abcdefgh", 8, 80);
    TH_EQ_STR(out, "abc");
}

int main(void)
{
    TH_RUN(slashes_and_dots_normalise);
    TH_RUN(dotdot_is_refused_not_resolved);
    TH_RUN(empty_root_and_bad_characters_refused);
    TH_RUN(control_characters_are_quoted_in_messages);
    TH_RUN(small_output_is_toobig);
    TH_RUN(null_input_refused);
    TH_RUN(under_root_joins);
    TH_RUN(under_root_refuses_what_is_not_normalised);
    TH_RUN(link_targets);
    TH_RUN(quote_escapes_and_shortens);
    TH_EXIT();
}
