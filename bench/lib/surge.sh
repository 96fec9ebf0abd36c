# Sourced by the bench scripts: how they start `surge serve` and find its port.
# Expects $surge_bin and $repository; honours SURGE_BACKEND_DIRECTORY.

surge_command=()

# The `surge serve` command line on free loopback ports, into the array
# surge_command; extra arguments are appended.
surge_serve_command() {
  local backend_args=()
  if [ -n "${SURGE_BACKEND_DIRECTORY:-}" ]; then
    backend_args=(--backend-directory "$SURGE_BACKEND_DIRECTORY")
  elif [ -d "$(dirname "$surge_bin")/backends" ]; then
    backend_args=(--backend-directory "$(dirname "$surge_bin")/backends")
  fi
  surge_command=("$surge_bin" serve --model-repository "$repository" --host 127.0.0.1 --http-port 0 --metrics-port 0
    --grpc-port 0 "${backend_args[@]}" "$@")
}

# The HTTP port a server printed to its stdout log ("surge: http listening on
# HOST:PORT"), or nothing yet.
surge_port_from() {
  sed -n 's/^surge: http listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$1" 2>/dev/null | head -n 1
}

# launch_surge DIR [extra serve args...]: runs surge_command (built here unless
# already set) in the background with its output in DIR/surge.{out,err}, waits
# up to 60 s for "surge: ready", and sets surge_pid and surge_port. Returns 1,
# with the end of surge's stderr on ours, when it exits or never gets ready.
launch_surge() {
  local dir=$1
  shift
  [ "${#surge_command[@]}" -gt 0 ] || surge_serve_command "$@"
  "${surge_command[@]}" >"$dir/surge.out" 2>"$dir/surge.err" &
  surge_pid=$!
  local deadline=$((SECONDS + 60))
  until grep -q '^surge: ready' "$dir/surge.out" 2>/dev/null; do
    if ! kill -0 "$surge_pid" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 5 "$dir/surge.err" >&2
      return 1
    fi
    sleep 0.05
  done
  surge_port=$(surge_port_from "$dir/surge.out")
  [ -n "$surge_port" ]
}
