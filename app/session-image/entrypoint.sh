#!/usr/bin/env bash
# Session container entrypoint: prepare the owner's workspace, then run code-server (and, behind the
# editor load balancer, the owner-only auth proxy in front of it).
#
# Environment (from the task definition, RunTask's overrides and the per-launch environment file):
#   SESSION_ID, SESSION_OWNER   the session and its owner's user id (always)
#   EDITOR_AUTH                 password (public editor access) | alb (private: auth-proxy.js)
#   PORT                        the editor port the task exposes
#   REPOSITORY_URL              optional https URL cloned into the workspace on first start
#   GIT_TOKEN                   optional token for that repository's host (minted per launch)
#   GIT_USER_EMAIL, GIT_USER_NAME  optional Git identity of the owner
#   HASHED_PASSWORD             password mode: the session password's argon2 hash
#   USER_POOL_ISSUER, ALB_ARN, AWS_REGION  alb mode: what the proxy verifies
#   GRAPHQL_URL                 optional: where the IDE's activity is reported (task role, SigV4)
#   WORKSPACE                   default $HOME/workspace
#   CODE_SERVER, NODE           the binaries (defaults: code-server, code-server's bundled node)
set -euo pipefail

die() { echo "session-entrypoint: $*" >&2; exit 64; }

: "${SESSION_ID:?SESSION_ID is required}"
: "${SESSION_OWNER:?SESSION_OWNER is required}"
: "${PORT:?PORT is required}"
EDITOR_AUTH="${EDITOR_AUTH:-password}"
WORKSPACE="${WORKSPACE:-$HOME/workspace}"
CODE_SERVER="${CODE_SERVER:-code-server}"
NODE="${NODE:-/usr/lib/code-server/lib/node}"
PROXY="${PROXY:-/usr/local/lib/session/auth-proxy.js}"
REPORTER="${REPORTER:-/usr/local/lib/session/activity-reporter.js}"
UPSTREAM_PORT="${UPSTREAM_PORT:-13337}"
STATE_DIR="$HOME/.config/session"
CONFIG_DIR="$HOME/.config/code-server"

umask 077
mkdir -p "$WORKSPACE" "$STATE_DIR" "$CONFIG_DIR"

# --- Git identity -------------------------------------------------------------------------------
if [[ -n "${GIT_USER_EMAIL:-}" ]]; then
  git config --global user.email "$GIT_USER_EMAIL"
  git config --global user.name "${GIT_USER_NAME:-${GIT_USER_EMAIL%%@*}}"
fi

# --- Repository ---------------------------------------------------------------------------------
# The token goes to a private file read by a credential helper scoped to the repository's host: it
# never appears in a remote URL, .git/config or a command line, and pushes work while it is valid.
target="$WORKSPACE"
if [[ -n "${REPOSITORY_URL:-}" ]]; then
  name="$(basename "${REPOSITORY_URL%/}" .git)"
  [[ "$name" =~ ^[A-Za-z0-9._-]+$ ]] || die "REPOSITORY_URL does not end in a repository name"
  target="$WORKSPACE/$name"
  if [[ -n "${GIT_TOKEN:-}" ]]; then
    host="$(printf '%s' "$REPOSITORY_URL" | sed -E 's#^https://([^/@]+)/.*#\1#')"
    [[ "$host" =~ ^[A-Za-z0-9.-]+(:[0-9]+)?$ ]] || die "REPOSITORY_URL must be an https URL to use GIT_TOKEN"
    printf '%s' "$GIT_TOKEN" > "$STATE_DIR/git-token"
    git config --global "credential.https://$host.helper" \
      "!f() { test \"\$1\" = get || exit 0; echo username=x-access-token; printf 'password=%s\\n' \"\$(cat '$STATE_DIR/git-token')\"; }; f"
  fi
  if [[ -d "$target/.git" ]]; then
    echo "session-entrypoint: $target exists (persistent workspace); not cloning again"
  else
    git clone --quiet -- "$REPOSITORY_URL" "$target" || die "could not clone the repository"
  fi
  # Belt and braces: whatever URL the clone recorded, the remote is the plain URL.
  git -C "$target" remote set-url origin "$REPOSITORY_URL"
fi
unset GIT_TOKEN GIT_TOKEN_EXPIRES_AT

# --- activity -----------------------------------------------------------------------------------
# The idle timeout counts from the IDE's own use: code-server's heartbeat file and, behind the load
# balancer, the proxy's file (the owner's requests), reported by the task role (activity-reporter.js).
HEARTBEAT="$HOME/.local/share/code-server/heartbeat"
ACTIVITY_FILE="$STATE_DIR/activity"
if [[ -n "${GRAPHQL_URL:-}" ]]; then
  files="$HEARTBEAT"
  [[ "$EDITOR_AUTH" == alb ]] && files="$files:$ACTIVITY_FILE"
  ACTIVITY_FILES="$files" "$NODE" "$REPORTER" &
fi

# --- code-server --------------------------------------------------------------------------------
config="$CONFIG_DIR/config.yaml"
case "$EDITOR_AUTH" in
  password)
    [[ -n "${HASHED_PASSWORD:-}" ]] || die "HASHED_PASSWORD is required with EDITOR_AUTH=password"
    [[ "$HASHED_PASSWORD" =~ ^\$argon2(id|i|d)\$[A-Za-z0-9\$=,+/]+$ ]] || die "HASHED_PASSWORD is not an argon2 hash"
    printf 'bind-addr: 0.0.0.0:%s\nauth: password\nhashed-password: "%s"\ncert: false\n' \
      "$PORT" "$HASHED_PASSWORD" > "$config"
    unset HASHED_PASSWORD PASSWORD
    exec "$CODE_SERVER" --config "$config" --disable-telemetry "$target"
    ;;
  alb)
    : "${USER_POOL_ISSUER:?USER_POOL_ISSUER is required with EDITOR_AUTH=alb}"
    : "${ALB_ARN:?ALB_ARN is required with EDITOR_AUTH=alb}"
    printf 'bind-addr: 127.0.0.1:%s\nauth: none\ncert: false\n' "$UPSTREAM_PORT" > "$config"
    unset HASHED_PASSWORD PASSWORD
    UPSTREAM_PORT="$UPSTREAM_PORT" ACTIVITY_FILE="$ACTIVITY_FILE" "$NODE" "$PROXY" &
    proxy=$!
    "$CODE_SERVER" --config "$config" --disable-telemetry "$target" &
    editor=$!
    trap 'kill -TERM "$proxy" "$editor" 2>/dev/null || true' TERM INT
    # Either one ending ends the session's container (ECS then reports it STOPPED).
    set +e
    wait -n "$proxy" "$editor"
    status=$?
    kill -TERM "$proxy" "$editor" 2>/dev/null
    wait
    exit "$status"
    ;;
  *)
    die "EDITOR_AUTH must be password or alb, got '$EDITOR_AUTH'"
    ;;
esac
