# test_login.sh: `dhp-import login` (OAuth 2.0 authorization code + PKCE S256,
# loopback redirect) against the local test server, with curl as the browser;
# then `token` and `run` with only the token cache (no client secret),
# renewing with the refresh token. Offline: no PostgreSQL.
. "$(dirname "$0")/lib.sh"
scratch
SERVER=${DHP_BINDIR}/dhp-testserver
command -v curl >/dev/null || { echo "SKIP: curl is needed to act as the browser"; exit 77; }
curl() { command curl --noproxy '*' "$@"; } # the browser talks to 127.0.0.1 directly
[ -x "$SERVER" ] || { echo "SKIP: no $SERVER"; exit 77; }
# Never a real browser, never the user's own token cache or secret.
unset DISPLAY WAYLAND_DISPLAY DHP_CLIENT_SECRET
export XDG_CACHE_HOME=$SCRATCH/xdg DHP_LOGIN_TIMEOUT=20
SECRET=s3cr3t-$RANDOM-value
printf '%s\n' "$SECRET" >"$SCRATCH/secret"
chmod 600 "$SCRATCH/secret"
SRV_PID="" LOGIN_PID=""
cleanup() {
	for p in $LOGIN_PID $SRV_PID; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	rm -rf "$SCRATCH"
	true
}
trap cleanup EXIT

# start_server NAME [FLAGS...]: a fresh server; sets PORT, URL.
start_server() {
	if [ -n "$SRV_PID" ]; then kill "$SRV_PID" 2>/dev/null; wait "$SRV_PID" 2>/dev/null || true; fi
	local name=$1
	shift
	"$SERVER" --port 0 --port-file "$SCRATCH/$name.port" --client-id etl \
		--client-secret-file "$SCRATCH/secret" --log "$SCRATCH/$name.log" "$@" \
		2>"$SCRATCH/$name.err" &
	SRV_PID=$!
	for _ in $(seq 100); do [ -s "$SCRATCH/$name.port" ] && break; sleep 0.05; done
	[ -s "$SCRATCH/$name.port" ] || fail "the test server did not start"
	PORT=$(cat "$SCRATCH/$name.port")
	URL=http://127.0.0.1:$PORT
}
stat_of() { # stat_of KEY: an integer from the server's /_stats
	curl -s "$URL/_stats" | tr -d ' \n' | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"
}

# login_bg NAME [ARGS...]: start `login` in the background; sets LOGIN_PID and
# AUTH_URL (the address it printed, read from its stdout).
login_bg() {
	local name=$1
	shift
	"$DHP" login --authorize-url "$URL/oauth/authorize" --token-url "$URL/oauth/token" \
		--client-id etl "$@" >"$SCRATCH/$name.out" 2>"$SCRATCH/$name.stderr" &
	LOGIN_PID=$!
	AUTH_URL=""
	for _ in $(seq 100); do
		AUTH_URL=$(grep -o "$URL/oauth/authorize?[^[:space:]]*" "$SCRATCH/$name.out" || true)
		[ -n "$AUTH_URL" ] && break
		kill -0 "$LOGIN_PID" 2>/dev/null || break
		sleep 0.05
	done
	[ -n "$AUTH_URL" ] || { cat "$SCRATCH/$name.out" "$SCRATCH/$name.stderr" >&2; fail "login printed no authorization URL"; }
}
# login_wait: wait for the background login; its exit status in rc.
login_wait() {
	rc=0
	wait "$LOGIN_PID" || rc=$?
	LOGIN_PID=""
}

start_server main --token-ttl 3600
TOK=$SCRATCH/tok.json

# 1. the authorization URL: the PKCE S256 request, a state, a loopback redirect
login_bg l1 --token-cache "$TOK"
for p in response_type=code client_id=etl code_challenge_method=S256 \
	'redirect_uri=http%3A%2F%2F127.0.0.1%3A[0-9]*%2Fcallback' 'state=[A-Za-z0-9._~-]\{32\}' \
	'code_challenge=[A-Za-z0-9_-]\{43\}\(&\|$\)'; do
	grep -q "$p" <<<"$AUTH_URL" || fail "authorization URL lacks $p: $AUTH_URL"
done
pass "authorization URL: response_type=code, S256 challenge, state, loopback redirect_uri"

# 2. the browser: authorize -> 302 to the callback; following it finishes login
CALLBACK=$(curl -s -o /dev/null -w '%{redirect_url}' "$AUTH_URL")
case $CALLBACK in
http://127.0.0.1:*/callback\?code=*) ;;
*) fail "authorize did not redirect to the callback: '$CALLBACK'" ;;
esac
# a browser may open a connection it never uses, or ask for a favicon first
cb_base=${CALLBACK%%/callback*}
exec 3<>"/dev/tcp/127.0.0.1/${cb_base##*:}"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$cb_base/favicon.ico")" = 404 ] || fail "favicon not answered 404"
page=$(curl -s "$CALLBACK")
exec 3>&-
grep -q "You can close this window" <<<"$page" || fail "callback page: $page"
login_wait
[ "$rc" = 0 ] || { cat "$SCRATCH/l1.out" "$SCRATCH/l1.stderr" >&2; fail "login exited $rc"; }
[ -f "$TOK" ] || fail "no token cache written"
[ "$(stat -c %a "$TOK")" = 600 ] || fail "token cache mode is $(stat -c %a "$TOK"), not 600"
! grep -q client_secret "$TOK" || fail "the token cache holds a client_secret"
grep -q '"refresh_token"' "$TOK" || fail "no refresh token saved"
grep -q '"expires_at"' "$TOK" || fail "no expiry saved"
access=$(sed -n 's/.*"access_token": *"\([^"]*\)".*/\1/p' "$TOK")
[ -n "$access" ] || fail "no access token saved"
for f in "$SCRATCH"/l1.out "$SCRATCH"/l1.stderr "$SCRATCH"/main.log; do
	! grep -qF "$access" "$f" || fail "the access token leaked into $f"
done
[ "$(stat_of code_exchanges)" = 1 ] || fail "server: expected one code exchange"
pass "login: idle connection and favicon survived, callback answered, code exchanged with the verifier, cache mode 600, no token printed"

# 3. the code is good once: replaying the callback's code at the token endpoint fails
code=$(sed -n 's/.*[?&]code=\([^&]*\).*/\1/p' <<<"$CALLBACK")
redir=$(sed -n 's/.*[?&]redirect_uri=\([^&]*\).*/\1/p' <<<"$AUTH_URL")
st=$(curl -s -o "$SCRATCH/replay" -w '%{http_code}' -X POST "$URL/oauth/token" \
	-d "grant_type=authorization_code&client_id=etl&code=$code&redirect_uri=$redir&code_verifier=$(printf 'x%.0s' $(seq 60))")
[ "$st" = 400 ] && grep -q invalid_grant "$SCRATCH/replay" || fail "code replay not refused ($st)"
pass "a used code is refused (invalid_grant)"

# 4. a tampered state is rejected: exit 1, nothing written
cp "$TOK" "$SCRATCH/tok.before"
login_bg l2 --token-cache "$TOK"
CALLBACK=$(curl -s -o /dev/null -w '%{redirect_url}' "$AUTH_URL")
BAD=$(sed 's/\([?&]state=\)[^&]*/\1wrong/' <<<"$CALLBACK")
[ "$BAD" != "$CALLBACK" ] || fail "could not tamper with the state in '$CALLBACK'"
st=$(curl -s -o /dev/null -w '%{http_code}' "$BAD")
login_wait
[ "$rc" = 1 ] || fail "tampered state: login exited $rc, expected 1"
[ "$st" = 400 ] || fail "tampered state: the callback answered $st"
grep -q "state" "$SCRATCH/l2.stderr" || { cat "$SCRATCH/l2.stderr" >&2; fail "tampered state: no message naming the state"; }
cmp -s "$TOK" "$SCRATCH/tok.before" || fail "tampered state: the token cache changed"
[ "$(stat_of code_exchanges)" = 1 ] || fail "tampered state: a code was exchanged"
pass "tampered state: exit 1, code not exchanged, cache untouched"

# 5. the test server checks PKCE: a code redeemed with a verifier that does not
# hash to its challenge is refused, and so is code_challenge_method=plain
chal=$(printf 'A%.0s' $(seq 43))
loc=$(curl -s -o /dev/null -w '%{redirect_url}' \
	"$URL/oauth/authorize?response_type=code&client_id=etl&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcallback&state=s&code_challenge=$chal&code_challenge_method=S256")
code=$(sed -n 's/.*[?&]code=\([^&]*\).*/\1/p' <<<"$loc")
[ -n "$code" ] || fail "authorize gave no code: '$loc'"
st=$(curl -s -o "$SCRATCH/wrongv" -w '%{http_code}' -X POST "$URL/oauth/token" \
	-d "grant_type=authorization_code&client_id=etl&code=$code&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcallback&code_verifier=$(printf 'v%.0s' $(seq 50))")
[ "$st" = 400 ] && grep -q invalid_grant "$SCRATCH/wrongv" || fail "wrong code_verifier not refused ($st)"
loc=$(curl -s -o /dev/null -w '%{redirect_url}' \
	"$URL/oauth/authorize?response_type=code&client_id=etl&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcallback&state=s&code_challenge=$chal&code_challenge_method=plain")
grep -q 'error=invalid_request' <<<"$loc" || fail "plain PKCE not refused: '$loc'"
pass "test server: wrong code_verifier and plain PKCE refused"

# 6. token with only the cache (no secret): the cached access token
expect_status 0 "$DHP" token --token-url "$URL/oauth/token" --client-id etl --token-cache "$TOK"
grep -q "from the token cache" "$SCRATCH/stdout" || fail "token did not use the cache: $(cat "$SCRATCH/stdout")"
! grep -qF "$access" "$SCRATCH/stdout" "$SCRATCH/stderr" || fail "token printed the access token"
pass "token: the login's access token, no secret needed"

# 7. a loose cache, or one of another client, is refused (exit 2)
chmod 644 "$TOK"
expect_status 2 "$DHP" token --token-url "$URL/oauth/token" --client-id etl --token-cache "$TOK"
expect_stderr "readable by others"
chmod 600 "$TOK"
expect_status 2 "$DHP" token --token-url "$URL/oauth/token" --client-id other --token-cache "$TOK"
expect_stderr "run dhp-import login"
pass "loose token cache and another client's cache refused"

# 8. with a secret, client_credentials stays the default (the cache is not used)
expect_status 0 "$DHP" token --token-url "$URL/oauth/token" --client-id etl --token-cache "$TOK" \
	--client-secret-file "$SCRATCH/secret"
grep -q "received" "$SCRATCH/stdout" || fail "with a secret, token did not use client_credentials"
pass "a client secret still means client_credentials"

# 9. expired access token: renewed with the refresh token, written back (mode 600)
start_server short --token-ttl 2
login_bg l3 --token-cache "$TOK"
CALLBACK=$(curl -s -o /dev/null -w '%{redirect_url}' "$AUTH_URL")
curl -s -o /dev/null "$CALLBACK"
login_wait
[ "$rc" = 0 ] || { cat "$SCRATCH/l3.stderr" >&2; fail "login (short tokens) exited $rc"; }
old_refresh=$(sed -n 's/.*"refresh_token": *"\([^"]*\)".*/\1/p' "$TOK")
sleep 2.2
expect_status 0 "$DHP" token --token-url "$URL/oauth/token" --client-id etl --token-cache "$TOK"
grep -q "renewed" "$SCRATCH/stdout" || fail "expired token not renewed: $(cat "$SCRATCH/stdout")"
new_refresh=$(sed -n 's/.*"refresh_token": *"\([^"]*\)".*/\1/p' "$TOK")
[ -n "$new_refresh" ] && [ "$new_refresh" != "$old_refresh" ] || fail "the renewed refresh token was not written back"
[ "$(stat -c %a "$TOK")" = 600 ] || fail "renewed token cache mode is $(stat -c %a "$TOK")"
[ "$(stat_of refreshes)" = 1 ] || fail "server: expected one refresh"
pass "expired token renewed with grant_type=refresh_token, written back"

# 10. run with only the cache. The cache claims a long-lived access token the
# server has forgotten: the first request gets 401, the token is renewed with the
# refresh token; tokens expiring during the run are renewed too, every renewal
# written back.
sed -i 's/"expires_at": *[0-9]*/"expires_at": 4102444800/' "$TOK"
[ "$(stat -c %a "$TOK")" = 600 ] || fail "sed changed the cache's mode"
sleep 2.2
refreshes=$(stat_of refreshes) unauthorized=$(stat_of unauthorized)
expect_status 0 "$DHP" run --source hl7v2 "$SRC"/samples/hl7v2/*.hl7 --base "$URL/fhir" \
	--mappings "$SRC/mappings/hl7v2" --profiles "$SRC/mappings/profiles" \
	--terminology "$SRC/mappings/terminology" \
	--token-url "$URL/oauth/token" --client-id etl --token-cache "$TOK" -q --concurrency 1 \
	--records-per-bundle 1 --report "$SCRATCH/run.json" --rejects "$SCRATCH/rejects.jsonl"
[ "$(stat_of creates)" -gt 10 ] || fail "run with the token cache created too little"
[ "$(stat_of unauthorized)" -gt "$unauthorized" ] || fail "run: the stale token got no 401"
[ "$(stat_of refreshes)" -gt "$refreshes" ] || fail "run: the token was not renewed after the 401"
! grep -q 4102444800 "$TOK" || fail "run: the renewed tokens were not written back"
[ "$(stat -c %a "$TOK")" = 600 ] || fail "run: token cache mode is $(stat -c %a "$TOK")"
pass "run with the login's tokens: renewed after a 401 ($(($(stat_of refreshes) - refreshes)) refreshes), written back"

# 11. the default cache location, XDG_CACHE_HOME/dhp-import/token.json, made 0700
login_bg l4
CALLBACK=$(curl -s -o /dev/null -w '%{redirect_url}' "$AUTH_URL")
curl -s -o /dev/null "$CALLBACK"
login_wait
[ "$rc" = 0 ] || { cat "$SCRATCH/l4.stderr" >&2; fail "login (default cache) exited $rc"; }
[ "$(stat -c %a "$XDG_CACHE_HOME/dhp-import/token.json")" = 600 ] || fail "default cache not mode 600"
[ "$(stat -c %a "$XDG_CACHE_HOME/dhp-import")" = 700 ] || fail "default cache directory not mode 700"
expect_status 0 "$DHP" token --token-url "$URL/oauth/token" --client-id etl
pass "default token cache under XDG_CACHE_HOME, used by token"

# 12. no browser within DHP_LOGIN_TIMEOUT: exit 1
expect_status 1 env DHP_LOGIN_TIMEOUT=1 "$DHP" login --authorize-url "$URL/oauth/authorize" \
	--token-url "$URL/oauth/token" --client-id etl --token-cache "$SCRATCH/never.json"
expect_stderr "no login redirect within 1 s"
[ ! -e "$SCRATCH/never.json" ] || fail "a timed-out login wrote a cache"
expect_status 2 "$DHP" login --token-url "$URL/oauth/token" --client-id etl
expect_stderr "--authorize-url"
pass "timeout: exit 1; no authorization endpoint: exit 2"

# 13. the secret never appears in any output, the tokens in no log
for f in "$SCRATCH"/*.out "$SCRATCH"/*.stderr "$SCRATCH"/*.log "$SCRATCH"/*.err "$SCRATCH/stdout" "$SCRATCH/stderr"; do
	[ -f "$f" ] || continue
	! grep -qF "$SECRET" "$f" || fail "the client secret leaked into $f"
	! grep -qF "$new_refresh" "$f" || fail "a refresh token leaked into $f"
done
pass "no secret or token in any output"

# 14. the server ends cleanly (no crash, no sanitizer report in a sanitizer build)
kill "$SRV_PID"
src=0
wait "$SRV_PID" || src=$?
SRV_PID=""
[ "$src" = 0 ] || { cat "$SCRATCH"/*.err >&2; fail "dhp-testserver exited $src"; }
! grep -l "Sanitizer\|runtime error" "$SCRATCH"/*.err "$SCRATCH"/*.stderr 2>/dev/null || fail "sanitizer report above"
pass "test server stopped cleanly"
