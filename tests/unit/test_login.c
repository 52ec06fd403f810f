#include "core/dhp.h"
#include "load/login.h"
#include "load/oauth2.h"

#include <sys/stat.h>
#include <unistd.h>

#include "cu.h"

/* RFC 7636 appendix B. */
static void test_challenge_rfc7636(void)
{
	char c[44];
	login_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", c);
	CU_ASSERT_STR(c, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
	CU_ASSERT_EQUAL(strlen(c), 43);
}

static void test_random_unreserved(void)
{
	struct dhp_error err = DHP_ERROR_INIT;
	char a[129], b[129];
	CU_ASSERT_EQUAL(login_random(a, 128, &err), 0);
	CU_ASSERT_EQUAL(login_random(b, 128, &err), 0);
	CU_ASSERT_EQUAL(strlen(a), 128);
	CU_ASSERT_EQUAL(
	    strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"), 128);
	CU_ASSERT(strcmp(a, b) != 0);
}

static char dir[] = "/tmp/dhp-login-test.XXXXXX";

static void test_cache_round_trip(void)
{
	struct dhp_error err = DHP_ERROR_INIT;
	char path[256];
	snprintf(path, sizeof(path), "%s/sub/dir/token.json", dir);
	char url[] = "https://sso.example/oauth/token", id[] = "etl", acc[] = "acc-1",
	     ref[] = "ref-1", acc2[] = "acc-2";
	struct token_cache tc = {url, id, acc, ref, 1900000000};
	CU_ASSERT_EQUAL(login_cache_write(path, &tc, &err), 0);
	struct stat st;
	CU_ASSERT_EQUAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 07777, 0600);
	char sub[256];
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	CU_ASSERT_EQUAL(stat(sub, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 07777, 0700);

	struct token_cache rd;
	CU_ASSERT_EQUAL(login_cache_read(path, &rd, &err), 0);
	CU_ASSERT_STR(rd.token_url, "https://sso.example/oauth/token");
	CU_ASSERT_STR(rd.client_id, "etl");
	CU_ASSERT_STR(rd.access_token, "acc-1");
	CU_ASSERT_STR(rd.refresh_token, "ref-1");
	CU_ASSERT_EQUAL(rd.expires_at, 1900000000);
	login_cache_free(&rd);

	/* seeding an oauth client: same client only */
	struct oauth o;
	memset(&o, 0, sizeof(o));
	o.token_url = xstrdup("https://sso.example/oauth/token");
	o.client_id = xstrdup("etl");
	CU_ASSERT_EQUAL(oauth_use_cache(&o, path, &err), 0);
	CU_ASSERT_STR(o.token, "acc-1");
	CU_ASSERT_STR(o.refresh_token, "ref-1");
	CU_ASSERT_STR(o.cache_file, path);
	CU_ASSERT(o.expires_at > time(NULL));
	free(o.client_id);
	o.client_id = xstrdup("other");
	CU_ASSERT_EQUAL(oauth_use_cache(&o, path, &err), -1);
	CU_ASSERT(strstr(err.msg, "dhp-import login") != NULL);
	oauth_free(&o);

	/* overwritten in place: still 0600, no temporary left behind */
	tc.access_token = acc2;
	tc.refresh_token = NULL;
	CU_ASSERT_EQUAL(login_cache_write(path, &tc, &err), 0);
	CU_ASSERT_EQUAL(login_cache_read(path, &rd, &err), 0);
	CU_ASSERT_STR(rd.access_token, "acc-2");
	CU_ASSERT_PTR_NULL(rd.refresh_token);
	login_cache_free(&rd);
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "test $(ls -A '%s/sub/dir' | wc -l) = 1", dir);
	CU_ASSERT_EQUAL(system(cmd), 0);

	/* loose: refused */
	CU_ASSERT_EQUAL(chmod(path, 0640), 0);
	dhp_error_clear(&err);
	CU_ASSERT_EQUAL(login_cache_read(path, &rd, &err), -1);
	CU_ASSERT(strstr(err.msg, "readable by others") != NULL);
}

static void test_cache_not_a_cache(void)
{
	struct dhp_error err = DHP_ERROR_INIT;
	char path[256];
	snprintf(path, sizeof(path), "%s/junk.json", dir);
	FILE *f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("{\"access_token\": \"x\"}\n", f);
	fclose(f);
	chmod(path, 0600);
	struct token_cache rd;
	CU_ASSERT_EQUAL(login_cache_read(path, &rd, &err), -1);
	CU_ASSERT(strstr(err.msg, "not a token cache") != NULL);
	snprintf(path, sizeof(path), "%s/missing.json", dir);
	CU_ASSERT_EQUAL(login_cache_read(path, &rd, &err), -1);
}

static void test_default_path(void)
{
	char *saved_xdg = getenv("XDG_CACHE_HOME") ? xstrdup(getenv("XDG_CACHE_HOME")) : NULL;
	char *saved_home = getenv("HOME") ? xstrdup(getenv("HOME")) : NULL;
	setenv("XDG_CACHE_HOME", "/x/cache", 1);
	char *p = login_cache_default();
	CU_ASSERT_STR(p, "/x/cache/dhp-import/token.json");
	free(p);
	setenv("XDG_CACHE_HOME", "relative", 1); /* invalid: ignored */
	setenv("HOME", "/home/u", 1);
	p = login_cache_default();
	CU_ASSERT_STR(p, "/home/u/.cache/dhp-import/token.json");
	free(p);
	unsetenv("XDG_CACHE_HOME");
	unsetenv("HOME");
	CU_ASSERT_PTR_NULL(login_cache_default());
	if (saved_xdg)
		setenv("XDG_CACHE_HOME", saved_xdg, 1);
	if (saved_home)
		setenv("HOME", saved_home, 1);
	free(saved_xdg);
	free(saved_home);
}

static void test_cleanup(void)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CU_ASSERT_EQUAL(system(cmd), 0);
}

static void test_setup(void)
{
	CU_ASSERT_PTR_NOT_NULL(mkdtemp(dir));
}

static CU_TestInfo tests[] = {
    {"PKCE S256 challenge (RFC 7636 B)", test_challenge_rfc7636},
    {"verifier from the unreserved set", test_random_unreserved},
    {"scratch directory", test_setup},
    {"token cache round trip, mode 0600", test_cache_round_trip},
    {"not a token cache", test_cache_not_a_cache},
    {"default cache path", test_default_path},
    {"remove scratch", test_cleanup},
    CU_TEST_INFO_NULL,
};

CU_MAIN("login")
