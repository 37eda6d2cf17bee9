/* dp_git_url_check, dp_git_branch_check, dp_git_token_check: what may reach libgit2. */
#include "dp_git.h"
#include "th.h"

#include <stdlib.h>

static dp_rc url(const char *u, bool with_token)
{
    struct dp_err err = {0};

    return dp_git_url_check(u, with_token, &err);
}

static void test_url_accepted(void)
{
    TH_EQ_INT(url("https://github.com/acme/web.git", false), DP_OK);
    TH_EQ_INT(url("https://github.com/acme/web.git", true), DP_OK);
    TH_EQ_INT(url("https://git.example.com:8443/a/b/c", true), DP_OK);
    TH_EQ_INT(url("http://127.0.0.1:8080/app.git", false), DP_OK);
    TH_EQ_INT(url("git://127.0.0.1:9418/app.git", false), DP_OK);
    TH_EQ_INT(url("https://[::1]:8443/app.git", true), DP_OK);
    TH_EQ_INT(url("https://[2001:db8::1]/app.git", true), DP_OK);
    TH_EQ_INT(url("https://host/a%20b.git", false), DP_OK);
    TH_EQ_INT(url("https://host/~user/repo_1-x.git", false), DP_OK);
}

static void test_url_schemes_refused(void)
{
    TH_EQ_INT(url("file:///etc", false), DP_EINVAL);
    TH_EQ_INT(url("/etc", false), DP_EINVAL);
    TH_EQ_INT(url("./repo", false), DP_EINVAL);
    TH_EQ_INT(url("repo", false), DP_EINVAL);
    TH_EQ_INT(url("host:path/repo.git", false), DP_EINVAL);
    TH_EQ_INT(url("git@github.com:acme/web.git", false), DP_EINVAL);
    TH_EQ_INT(url("ssh://host/repo.git", false), DP_EINVAL);
    TH_EQ_INT(url("ssh+git://host/repo.git", false), DP_EINVAL);
    TH_EQ_INT(url("git+ssh://host/repo.git", false), DP_EINVAL);
    TH_EQ_INT(url("HTTPS://host/repo.git", false), DP_EINVAL);
    TH_EQ_INT(url(" https://host/repo.git", false), DP_EINVAL);
    TH_EQ_INT(url("ftp://host/repo.git", false), DP_EINVAL);
    TH_EQ_INT(url("", false), DP_EINVAL);
    TH_EQ_INT(url(NULL, false), DP_EINVAL);
}

static void test_url_token_needs_https(void)
{
    struct dp_err err = {0};

    TH_EQ_INT(dp_git_url_check("http://host/repo.git", true, &err), DP_EINVAL);
    TH_EQ_STR(err.code, "token_needs_https");
    TH_EQ_INT(dp_git_url_check("git://host/repo.git", true, &err), DP_EINVAL);
    TH_EQ_STR(err.code, "token_needs_https");
}

static void test_url_userinfo_refused(void)
{
    struct dp_err err = {0};

    TH_EQ_INT(dp_git_url_check("https://user:s3cret@host/repo.git", false, &err), DP_EINVAL);
    TH_EQ_STR(err.code, "invalid_url");
    TH_CHECK(strstr(err.msg, "s3cret") == NULL);
    TH_EQ_INT(url("https://user@host/repo.git", false), DP_EINVAL);
    TH_EQ_INT(url("https://host@evil/repo.git", false), DP_EINVAL);
    TH_EQ_INT(url("https://host/repo@x.git", false), DP_EINVAL);
    /* An unknown scheme with a password: the message still does not echo it. */
    TH_EQ_INT(dp_git_url_check("ftp://u:s3cret@host/r", false, &err), DP_EINVAL);
    TH_CHECK(strstr(err.msg, "s3cret") == NULL);
}

static void test_url_shape_refused(void)
{
    TH_EQ_INT(url("https://", false), DP_EINVAL);
    TH_EQ_INT(url("https:///repo.git", false), DP_EINVAL);
    TH_EQ_INT(url("https://host", false), DP_EINVAL);
    TH_EQ_INT(url("https://host/", false), DP_EINVAL);
    TH_EQ_INT(url("https://-host/repo", false), DP_EINVAL);
    TH_EQ_INT(url("https://ho st/repo", false), DP_EINVAL);
    TH_EQ_INT(url("https://host:0/repo", false), DP_EINVAL);
    TH_EQ_INT(url("https://host:65536/repo", false), DP_EINVAL);
    TH_EQ_INT(url("https://host:/repo", false), DP_EINVAL);
    TH_EQ_INT(url("https://host:12a/repo", false), DP_EINVAL);
    TH_EQ_INT(url("https://[::1/repo", false), DP_EINVAL);
    TH_EQ_INT(url("https://[]/repo", false), DP_EINVAL);
    TH_EQ_INT(url("https://[zz]/repo", false), DP_EINVAL);
    TH_EQ_INT(url("https://host/re po", false), DP_EINVAL);
    TH_EQ_INT(url("https://host/repo\n", false), DP_EINVAL);
    TH_EQ_INT(url("https://host/repo\\x", false), DP_EINVAL);
    TH_EQ_INT(url("https://host/repo?x=1", false), DP_EINVAL);
    TH_EQ_INT(url("https://host/repo#frag", false), DP_EINVAL);
    TH_EQ_INT(url("https://host?x/repo", false), DP_EINVAL);
    TH_EQ_INT(url("https://host/r%zzepo", false), DP_EINVAL);
    TH_EQ_INT(url("https://host/r%2", false), DP_EINVAL);
    TH_EQ_INT(url("https://h\xc3\xa9st/repo", false), DP_EINVAL);
    TH_EQ_INT(url("https://host/r\xc3\xa9po", false), DP_EINVAL);
}

static void test_url_length(void)
{
    static const char head[] = "https://host/";
    char *u = malloc(DP_URL_MAX + 2);

    memcpy(u, head, sizeof(head) - 1);
    memset(u + sizeof(head) - 1, 'a', DP_URL_MAX - (sizeof(head) - 1));
    u[DP_URL_MAX] = '\0';
    TH_EQ_INT(url(u, false), DP_OK);
    u[DP_URL_MAX] = 'a';
    u[DP_URL_MAX + 1] = '\0';
    TH_EQ_INT(url(u, false), DP_EINVAL);
    free(u);
}

static dp_rc branch(const char *b)
{
    struct dp_err err = {0};

    return dp_git_branch_check(b, &err);
}

static void test_branch(void)
{
    char big[DP_GIT_BRANCH_MAX + 2];

    TH_EQ_INT(branch("main"), DP_OK);
    TH_EQ_INT(branch("feature/login-page_2"), DP_OK);
    TH_EQ_INT(branch("release/1.2.3"), DP_OK);
    TH_EQ_INT(branch("v1.0"), DP_OK);
    TH_EQ_INT(branch("caf\xc3\xa9"), DP_OK);
    TH_EQ_INT(branch(""), DP_EINVAL);
    TH_EQ_INT(branch(NULL), DP_EINVAL);
    TH_EQ_INT(branch("-x"), DP_EINVAL);
    TH_EQ_INT(branch("HEAD"), DP_EINVAL);
    TH_EQ_INT(branch("@"), DP_EINVAL);
    TH_EQ_INT(branch("a..b"), DP_EINVAL);
    TH_EQ_INT(branch("a@{1}"), DP_EINVAL);
    TH_EQ_INT(branch("/a"), DP_EINVAL);
    TH_EQ_INT(branch("a/"), DP_EINVAL);
    TH_EQ_INT(branch("a//b"), DP_EINVAL);
    TH_EQ_INT(branch("a."), DP_EINVAL);
    TH_EQ_INT(branch(".a"), DP_EINVAL);
    TH_EQ_INT(branch("a/.b"), DP_EINVAL);
    TH_EQ_INT(branch("a.lock"), DP_EINVAL);
    TH_EQ_INT(branch("a.lock/b"), DP_EINVAL);
    TH_EQ_INT(branch("a b"), DP_EINVAL);
    TH_EQ_INT(branch("a~1"), DP_EINVAL);
    TH_EQ_INT(branch("a^"), DP_EINVAL);
    TH_EQ_INT(branch("a:b"), DP_EINVAL);
    TH_EQ_INT(branch("a?"), DP_EINVAL);
    TH_EQ_INT(branch("a*"), DP_EINVAL);
    TH_EQ_INT(branch("a[b"), DP_EINVAL);
    TH_EQ_INT(branch("a\\b"), DP_EINVAL);
    TH_EQ_INT(branch("a\tb"), DP_EINVAL);
    TH_EQ_INT(branch("a\x7f"), DP_EINVAL);
    memset(big, 'b', sizeof(big) - 1);
    big[DP_GIT_BRANCH_MAX] = '\0';
    TH_EQ_INT(branch(big), DP_OK);
    big[DP_GIT_BRANCH_MAX] = 'b';
    big[DP_GIT_BRANCH_MAX + 1] = '\0';
    TH_EQ_INT(branch(big), DP_EINVAL);
}

static void test_token(void)
{
    struct dp_err err = {0};
    char big[DP_CREDENTIAL_MAX + 2];

    TH_EQ_INT(dp_git_token_check("ghp_abcDEF123", &err), DP_OK);
    TH_EQ_INT(dp_git_token_check("", &err), DP_EINVAL);
    TH_EQ_INT(dp_git_token_check("a\nb", &err), DP_EINVAL);
    TH_EQ_STR(err.code, "invalid_token");
    TH_CHECK(strstr(err.msg, "a\nb") == NULL);
    memset(big, 't', sizeof(big) - 1);
    big[DP_CREDENTIAL_MAX] = '\0';
    TH_EQ_INT(dp_git_token_check(big, &err), DP_OK);
    big[DP_CREDENTIAL_MAX] = 't';
    big[DP_CREDENTIAL_MAX + 1] = '\0';
    TH_EQ_INT(dp_git_token_check(big, &err), DP_EINVAL);
}

int main(void)
{
    TH_RUN(test_url_accepted);
    TH_RUN(test_url_schemes_refused);
    TH_RUN(test_url_token_needs_https);
    TH_RUN(test_url_userinfo_refused);
    TH_RUN(test_url_shape_refused);
    TH_RUN(test_url_length);
    TH_RUN(test_branch);
    TH_RUN(test_token);
    TH_EXIT();
}
