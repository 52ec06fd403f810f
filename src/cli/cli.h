/*
 * cli.h: the dhp-import command line (dhp-import(1)).
 *
 * Only this layer chooses exit statuses (all other stages return errors):
 *   0  everything done            3  done, some records rejected
 *   2  usage or configuration     1  failed (database, I/O, ...)
 */
#ifndef DHP_CLI_H
#define DHP_CLI_H

#include <stdbool.h>

#include "core/conf.h"

enum exit_status { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_REJECTS = 3 };

struct cli_opts {
	struct job_conf conf;
	const char *command; /* "validate", "run --dry-run", "check" */
	bool dry_run;
	bool load; /* run without --dry-run: send to [target] */
	bool quiet;
	bool progress; /* a progress line on stderr (only on a terminal) */
};

/* validate / run --dry-run: extract, map, write bundles, report. */
int cmd_validate(struct cli_opts *o);
/* token: fetch an OAuth2 token from [target] and say whether it worked. */
int cmd_token(struct cli_opts *o);
/* login: a person's OAuth2 login (authorization code + PKCE) into the token cache. */
int cmd_login(struct cli_opts *o);
/* check: load and check the mapping set only. */
int cmd_check(struct cli_opts *o);

/* Find the profile / terminology directories shipped with the tool. */
char *cli_default_dir(const char *what);

#endif
