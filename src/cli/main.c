/*
 * main.c: dhp-import's entry point: subcommand dispatch and options.
 */
#include "core/dhp.h"
#include "core/fileio.h"
#include "core/log.h"
#include "cli/cli.h"

#include <getopt.h>
#include <limits.h>
#include <unistd.h>

static const char usage_text[] =
    "usage: dhp-import COMMAND [JOB.conf] [OPTIONS] [FILE...]\n"
    "\n"
    "Move hospital data (PostgreSQL rows, HL7v2 messages) into the Uzbekistan\n"
    "Digital Health Platform as UZ Core FHIR R5 transaction Bundles.\n"
    "\n"
    "Commands:\n"
    "  validate          extract and map everything, write bundles and a report;\n"
    "                    nothing is sent (same as run --dry-run)\n"
    "  run               extract, map and load into DHP (transactions, OAuth2)\n"
    "  run --dry-run     the same as validate\n"
    "  check             check the job file and mapping tables only\n"
    "  token             get an OAuth2 token from [target] (tests the credentials)\n"
    "  login             log in as a person (browser, OAuth2 code + PKCE); run and\n"
    "                    token then use the saved tokens when there is no secret\n"
    "\n"
    "Options:\n"
    "  --source TYPE             pg, or hl7v2 (then FILE... are the message exports)\n"
    "  --db CONNINFO             PostgreSQL conninfo or URI (default: PG* environment)\n"
    "  --since TIMESTAMP         watermark bound to :since in the queries\n"
    "  --charset NAME            HL7v2 character set, overriding MSH-18\n"
    "  --unmapped reject|skip    HL7v2 message types no table maps (reject)\n"
    "  --mappings DIR            mapping tables (*.map)\n"
    "  --profiles DIR            UZ Core profile tables (default: shipped)\n"
    "  --terminology DIR         shared code tables (default: shipped)\n"
    "  --timezone TZ             local time zone of the source (Asia/Tashkent)\n"
    "  --out DIR                 directory for the bundle files\n"
    "  --records-per-bundle N    records per transaction Bundle (50; hl7v2: 1)\n"
    "  --rejects FILE            reject file, JSON lines (DIR/rejects.jsonl)\n"
    "  --report FILE             write a JSON run report\n"
    "  --base URL                FHIR base of DHP (run)\n"
    "  --token-url URL           OAuth2 token endpoint (run, token)\n"
    "  --client-id ID            OAuth2 client id\n"
    "  --client-secret-file FILE file holding the client secret (mode 600);\n"
    "                            else $DHP_CLIENT_SECRET\n"
    "  --scope SCOPE             OAuth2 scope, when the SSO wants one\n"
    "  --token-style STYLE       token request body: form, json or ehealth\n"
    "  --authorize-url URL       OAuth2 authorization endpoint (login)\n"
    "  --token-cache FILE        tokens of login (default\n"
    "                            $XDG_CACHE_HOME/dhp-import/token.json)\n"
    "  --ca-file FILE            CA certificates for TLS (verification stays on)\n"
    "  --state FILE              reserved for the state ledger (accepted, unused)\n"
    "  --concurrency N           transactions in flight (run; default 4)\n"
    "  -q, --quiet               errors only, no summary\n"
    "  -v, --verbose             also log every rejected record\n"
    "      --no-progress         no progress line on a terminal\n"
    "  -h, --help                this help\n"
    "      --version             print the version\n"
    "\n"
    "Exit status: 0 done, 3 done with rejected records, 2 usage or configuration\n"
    "error, 1 failure. See dhp-import(1), dhp-import.conf(5), dhp-import-mapping(5).\n";

enum {
	OPT_SOURCE = 256,
	OPT_DB,
	OPT_SINCE,
	OPT_MAPPINGS,
	OPT_PROFILES,
	OPT_TERMINOLOGY,
	OPT_TIMEZONE,
	OPT_OUT,
	OPT_PER_BUNDLE,
	OPT_REJECTS,
	OPT_REPORT,
	OPT_DRY_RUN,
	OPT_NO_PROGRESS,
	OPT_VERSION,
	OPT_CHARSET,
	OPT_UNMAPPED,
	OPT_BASE,
	OPT_TOKEN_URL,
	OPT_CLIENT_ID,
	OPT_SECRET_FILE,
	OPT_SCOPE,
	OPT_TOKEN_STYLE,
	OPT_CA_FILE,
	OPT_STATE,
	OPT_CONCURRENCY,
	OPT_AUTHORIZE_URL,
	OPT_TOKEN_CACHE,
};

static const struct option long_opts[] = {
    {"source", required_argument, NULL, OPT_SOURCE},
    {"db", required_argument, NULL, OPT_DB},
    {"since", required_argument, NULL, OPT_SINCE},
    {"charset", required_argument, NULL, OPT_CHARSET},
    {"unmapped", required_argument, NULL, OPT_UNMAPPED},
    {"base", required_argument, NULL, OPT_BASE},
    {"token-url", required_argument, NULL, OPT_TOKEN_URL},
    {"client-id", required_argument, NULL, OPT_CLIENT_ID},
    {"client-secret-file", required_argument, NULL, OPT_SECRET_FILE},
    {"scope", required_argument, NULL, OPT_SCOPE},
    {"token-style", required_argument, NULL, OPT_TOKEN_STYLE},
    {"ca-file", required_argument, NULL, OPT_CA_FILE},
    {"state", required_argument, NULL, OPT_STATE},
    {"concurrency", required_argument, NULL, OPT_CONCURRENCY},
    {"authorize-url", required_argument, NULL, OPT_AUTHORIZE_URL},
    {"token-cache", required_argument, NULL, OPT_TOKEN_CACHE},
    {"mappings", required_argument, NULL, OPT_MAPPINGS},
    {"profiles", required_argument, NULL, OPT_PROFILES},
    {"terminology", required_argument, NULL, OPT_TERMINOLOGY},
    {"timezone", required_argument, NULL, OPT_TIMEZONE},
    {"out", required_argument, NULL, OPT_OUT},
    {"records-per-bundle", required_argument, NULL, OPT_PER_BUNDLE},
    {"rejects", required_argument, NULL, OPT_REJECTS},
    {"report", required_argument, NULL, OPT_REPORT},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {"quiet", no_argument, NULL, 'q'},
    {"verbose", no_argument, NULL, 'v'},
    {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

/* Which job-file key each option overrides. */
static const struct {
	int opt;
	const char *section, *key;
} overrides[] = {
    {OPT_SOURCE, "source", "type"},
    {OPT_DB, "source", "db"},
    {OPT_SINCE, "source", "since"},
    {OPT_CHARSET, "source", "charset"},
    {OPT_UNMAPPED, "source", "unmapped"},
    {OPT_BASE, "target", "base"},
    {OPT_TOKEN_URL, "target", "token_url"},
    {OPT_CLIENT_ID, "target", "client_id"},
    {OPT_SECRET_FILE, "target", "client_secret_file"},
    {OPT_SCOPE, "target", "scope"},
    {OPT_TOKEN_STYLE, "target", "token_style"},
    {OPT_CA_FILE, "target", "ca_file"},
    {OPT_STATE, "target", "state"},
    {OPT_CONCURRENCY, "target", "concurrency"},
    {OPT_AUTHORIZE_URL, "target", "authorize_url"},
    {OPT_TOKEN_CACHE, "target", "token_cache"},
    {OPT_MAPPINGS, "mapping", "dir"},
    {OPT_PROFILES, "mapping", "profiles"},
    {OPT_TERMINOLOGY, "mapping", "terminology"},
    {OPT_TIMEZONE, "mapping", "timezone"},
    {OPT_OUT, "output", "dir"},
    {OPT_PER_BUNDLE, "output", "records_per_bundle"},
    {OPT_REJECTS, "output", "rejects"},
    {OPT_REPORT, "output", "report"},
};

static int usage_error(const char *msg, const char *arg)
{
	fprintf(stderr, "dhp-import: %s%s%s%s\n", msg, arg ? " '" : "", arg ? arg : "",
		arg ? "'" : "");
	fprintf(stderr, "Try 'dhp-import --help' for more information.\n");
	return EXIT_USAGE;
}

char *cli_default_dir(const char *what)
{
	/* Next to the binary in a build tree (build/dhp-import -> ./mappings),
	 * then the installed share directory. */
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *dir = fileio_dirname(exe);
		const char *tries[] = {"../", "../share/dhp-import/", ""};
		for (size_t i = 0; i < ARRAY_SIZE(tries); i++) {
			char rel[PATH_MAX];
			snprintf(rel, sizeof(rel), "%s%s", tries[i], what);
			char *p = fileio_join(dir, rel);
			if (access(p, R_OK) == 0) {
				free(dir);
				return p;
			}
			free(p);
		}
		free(dir);
	}
	char *p = fileio_join(DHP_DATADIR, what);
	if (access(p, R_OK) == 0)
		return p;
	free(p);
	return NULL;
}

struct pending {
	int opt;
	const char *arg;
};

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage_error("missing command (validate, run, check, token or login)", NULL);
	const char *cmd = argv[1];
	if (streq(cmd, "-h") || streq(cmd, "--help") || streq(cmd, "help")) {
		fputs(usage_text, stdout);
		return EXIT_OK;
	}
	if (streq(cmd, "--version")) {
		printf("dhp-import %s\n", DHP_VERSION);
		return EXIT_OK;
	}
	if (!streq(cmd, "validate") && !streq(cmd, "run") && !streq(cmd, "check") &&
	    !streq(cmd, "token") && !streq(cmd, "login"))
		return usage_error(
		    "unknown command (expected validate, run, check, token or login):", cmd);

	struct cli_opts o;
	memset(&o, 0, sizeof(o));
	conf_init(&o.conf);
	o.progress = isatty(STDERR_FILENO);
	struct pending pend[64];
	int npend = 0, c;
	optind = 2;
	while ((c = getopt_long(argc, argv, "qvh", long_opts, NULL)) != -1) {
		switch (c) {
		case 'q':
			o.quiet = true;
			o.progress = false;
			log_set_level(LOG_ERROR);
			break;
		case 'v':
			log_set_level(LOG_DEBUG);
			break;
		case 'h':
			fputs(usage_text, stdout);
			return EXIT_OK;
		case OPT_VERSION:
			printf("dhp-import %s\n", DHP_VERSION);
			return EXIT_OK;
		case OPT_DRY_RUN:
			o.dry_run = true;
			break;
		case OPT_NO_PROGRESS:
			o.progress = false;
			break;
		case '?':
			conf_free(&o.conf);
			return usage_error("invalid option", NULL);
		default:
			if (npend < (int)ARRAY_SIZE(pend))
				pend[npend++] = (struct pending){c, optarg};
		}
	}
	/* Positional arguments: a job file (*.conf) first, then input files. */
	struct dhp_error err = DHP_ERROR_INIT;
	int first_file = optind;
	size_t l0 = optind < argc ? strlen(argv[optind]) : 0;
	if (l0 > 5 && streq(argv[optind] + l0 - 5, ".conf")) {
		first_file++;
		if (conf_load(&o.conf, argv[optind], &err)) {
			log_error(&err);
			conf_free(&o.conf);
			return EXIT_USAGE;
		}
	}
	for (int i = 0; i < npend; i++)
		for (size_t k = 0; k < ARRAY_SIZE(overrides); k++)
			if (overrides[k].opt == pend[i].opt &&
			    conf_set(&o.conf, overrides[k].section, overrides[k].key, pend[i].arg,
				     NULL, &err, "command line")) {
				log_error(&err);
				conf_free(&o.conf);
				return EXIT_USAGE;
			}
	if (first_file < argc) {
		if (!streq(o.conf.source_type, "hl7v2")) {
			conf_free(&o.conf);
			return usage_error("input files are read with --source hl7v2; unexpected:",
					   argv[first_file]);
		}
		for (int i = first_file; i < argc; i++)
			conf_add_file(&o.conf, argv[i]);
	}
	int status;
	o.command = streq(cmd, "run") ? "run --dry-run" : cmd;
	if (streq(cmd, "check")) {
		status = cmd_check(&o);
	} else if (streq(cmd, "token")) {
		status = cmd_token(&o);
	} else if (streq(cmd, "login")) {
		status = cmd_login(&o);
	} else if (streq(cmd, "run") && !o.dry_run) {
		o.command = "run";
		o.load = true;
		status = cmd_validate(&o);
	} else {
		status = cmd_validate(&o);
	}
	conf_free(&o.conf);
	return status;
}
